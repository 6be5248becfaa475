// chip.v -- the top level: a reduced MAC core of the chip (emulator/bss2/chip.py).
//
// Parameters: ROWS drivers = MAC inputs (1..128), COLUMNS neurons per hemisphere
// (1..256), HEMISPHERES (1 or 2), MAX_BATCH input vectors per run. ROWS = 128,
// COLUMNS = 256, HEMISPHERES = 2 is the full chip. Input i is the chip's driver i
// (in both hemispheres); output j is neuron (j / COLUMNS) * 256 + j % COLUMNS of
// the full chip (hil/rtl/geometry.py holds this mapping for Python).
//
// Ports (clk: the 125 MHz FPGA clock, 8 ns; everything acts at its rising edge):
//   rst_n         synchronous reset, active low
//   load          command: read the fixed pattern from the session directory
//   configure     command: read weights.hex and driver_config.hex, write the
//                 synapse rows (2 * ROWS + 1 cycles) and the driver configuration
//   start         command: read inputs.hex (batch lines), run the batch, write outputs.hex
//   batch         input vectors of the run, 1..MAX_BATCH (sampled with start)
//   num_sends     sends per input vector, 1..1024
//   wait_cycles   FPGA cycles between two events, 0..4095
//   noise_key     the run's temporal-noise stream key (the emulator's
//                 bss2_stream_key(chip seed, run counter, 0)), sampled with start
//   sample0       the index of the batch's first vector within its run, sampled with
//                 start: vector b of the batch draws counter (sample0 + b) * 512 + neuron
//   skip_en       1: the clock generator honours `idle` (below); 0: every edge comes
//   idle          registered: the next `idle` rising edges after this one are idle
//                 (they would change nothing but the counters); with skip_en, the clock
//                 generator omits them (it holds the clock for idle periods, so simulated
//                 time stays 8 ns per cycle) and the chip counts them at the edge it gets;
//                 the sequencer's idle cycles plus the CADC ramp's leapt counts
//   busy          a command is running
//   done          high for one cycle when a command has finished
//   cycles        clock cycles since reset (for speed measurements)
// A command is taken in a cycle where busy is low; give one at a time.
//
// The session directory is the plusarg +BSS2_DIR=<path> (default "."). Its files
// (written by hil/rtl/fixed_pattern.py and hil/rtl/dut.py; one value per line, hex):
//   drivers.hex          HEMISPHERES*ROWS*3 doubles: gain, curvature, offset of driver (h, i)
//   synapse_gain_<h>.hex, stuck_<h>.hex, column_<h>.hex: see synapse_array.v
//   neurons.hex          NEURONS*4 doubles: knee_pos, knee_neg, rail_pos, rail_neg
//   live.hex             NEURONS bits: 0 for a dead neuron
//   cadc.hex             NEURONS*2 doubles: frac, slope of channel n
//   cadc_offset.hex      NEURONS 10-bit signed digital offsets
//   chip.hex             2 doubles: chip gain (LSB per activation x weight x send), tau_leak (s)
//   flags.hex            1 word {leak_on, compress, f32_readout}
//   noise.hex            NEURONS*2 doubles: sigma_read (noisy-neuron faults included), sigma_base (LSB)
//   ramp.hex             2 10-bit signed: ramp_lo, ramp_hi of the CADC
//   code_map.hex         256 codes: the code reported for each true code
//   weights.hex          HEMISPHERES*2*ROWS words of COLUMNS*12 bits ({label, weight} per column)
//   driver_config.hex    HEMISPHERES*ROWS 23-bit driver configurations (synapse_driver.v)
//   inputs.hex           batch words of ROWS*8 bits: activation i (0..31) in byte i
//   outputs.hex          written: batch words of NEURONS*8 bits, output j (int8) in byte j
//
// The sequencer, per input vector: clears the integrators; per send, sends each
// non-zero activation i, in row order, as one event {bus i % 4, row select i / 4,
// address {0, a}}, one event every wait_cycles + 1 cycles, and counts the cycles
// of the send (events * (wait_cycles + 1)); the neurons integrate the first send,
// the leak turns the counted time and num_sends into the scale; then the neurons
// are read, the CADC converts the membrane, the neurons are reset and the CADC
// converts the baseline; output = clamp(code - baseline code, -128, 127).
// Cycles per vector: num_sends * (events * (wait_cycles + 1) + 2) + 2 conversions
// of (ramp_hi - ramp_lo + 2) cycles + 8. With skip_en, the wait of an event
// (wait_cycles > 1) takes two clock edges instead of wait_cycles + 1, and the sends
// after the first of a vector are counted, not replayed: they carry the same events,
// which the integrator, holding one send's charge, does not take; the sequencer
// announces their (num_sends - 1) * (send cycles + 2) cycles as idle; and the CADC
// ramps leap from ramp_lo to ramp_hi in one edge (cadc.v), its ramp_hi - ramp_lo - 1
// passed counts announced as idle. The counted cycles, and so the leak, are the same.
// Temporal noise (f32_readout): per output neuron one bss2_noise generator (noise.v),
// the emulator's counter-based generator bit for bit, draws N1 and N2 of stream
// noise_key at counter (sample0 + b) * 512 + the full chip's neuron index when vector b
// starts; the neuron adds sigma_read * N1 to the membrane read and sigma_base * N2 to the
// baseline read (neuron.v). The coefficient file noise_coefficients.hex is opened in
// the simulator's working directory (the session directory, where
// hil/rtl/fixed_pattern.py writes it).
/* verilator lint_off DECLFILENAME */

module bss2_chip #(
    parameter ROWS = 32,
    parameter COLUMNS = 32,
    parameter HEMISPHERES = 1,
    parameter MAX_BATCH = 4096   // a power of two, 2..65536
) (
    input  wire        clk,
    input  wire        rst_n,
    input  wire        load,
    input  wire        configure,
    input  wire        start,
    input  wire [16:0] batch,
    input  wire [10:0] num_sends,
    input  wire [11:0] wait_cycles,
    input  wire [63:0] noise_key,
    input  wire [31:0] sample0,
    input  wire        skip_en,
    output wire [31:0] idle,
    output reg         busy,
    output reg         done,
    output reg  [63:0] cycles
);
    localparam NEURONS = HEMISPHERES * COLUMNS;
    localparam IW = $clog2(MAX_BATCH);

    // -- the session directory and the loaded files ------------------------------------
    reg [8*512-1:0] dir;
    reg [8*600-1:0] fname;
    initial if (!$value$plusargs("BSS2_DIR=%s", dir)) dir = ".";

    reg [63:0] drv_par [0:HEMISPHERES*ROWS*3-1];
    reg [22:0] drv_cfg [0:HEMISPHERES*ROWS-1];
    reg [12*COLUMNS-1:0] wmem [0:HEMISPHERES*2*ROWS-1];
    reg [63:0] npar [0:NEURONS*4-1];
    reg        live [0:NEURONS-1];
    reg [63:0] cpar [0:NEURONS*2-1];
    reg [9:0]  coff [0:NEURONS-1];
    reg [63:0] chipw [0:1];
    reg [63:0] spar [0:NEURONS*2-1];
    reg [2:0]  flags [0:0];
    reg [9:0]  ramp [0:1];
    reg [7:0]  cmap [0:255];
    reg [8*ROWS-1:0] inputs [0:MAX_BATCH-1];
    reg [8*NEURONS-1:0] outputs [0:MAX_BATCH-1];

    integer k;
    initial begin
        for (k = 0; k < HEMISPHERES*ROWS*3; k = k + 1) drv_par[k] = $realtobits(k % 3 == 0 ? 1.0 : 0.0);
        for (k = 0; k < HEMISPHERES*ROWS; k = k + 1) drv_cfg[k] = 23'd0;
        for (k = 0; k < NEURONS*4; k = k + 1) npar[k] = 64'd0;
        for (k = 0; k < NEURONS; k = k + 1) begin
            live[k] = 1'b1;
            cpar[2*k] = 64'd0;
            cpar[2*k + 1] = $realtobits(1.0);
            coff[k] = 10'd128;
            spar[2*k] = 64'd0;
            spar[2*k + 1] = 64'd0;
        end
        chipw[0] = $realtobits(0.0019);
        chipw[1] = $realtobits(1.0);
        flags[0] = 3'd0;
        ramp[0] = -10'sd128;
        ramp[1] = 10'sd127;
        for (k = 0; k < 256; k = k + 1) cmap[k] = k[7:0];
    end

    wire f32_readout = flags[0][0];
    wire compress = flags[0][1];
    wire leak_on = flags[0][2];
    wire [8*256-1:0] code_map;
    genvar g;
    generate
        for (g = 0; g < 256; g = g + 1) begin : map
            assign code_map[8*g +: 8] = cmap[g];
        end
    endgenerate

    // -- sequencer state ------------------------------------------------------------------
    localparam S_IDLE = 4'd0, S_CFG = 4'd1, S_VEC = 4'd2, S_SEND = 4'd3, S_SLOT = 4'd4,
               S_SEND_END = 4'd5, S_READ = 4'd6, S_CONV_MEM = 4'd7, S_WAIT_MEM = 4'd8,
               S_CONV_BASE = 4'd9, S_WAIT_BASE = 4'd10, S_FINISH = 4'd11, S_STORE = 4'd12;
    reg [3:0]  state;
    reg [16:0] b;
    reg [16:0] n_batch;
    reg [10:0] s;
    reg [10:0] n_sends;
    reg [11:0] n_wait;
    reg [11:0] slot_left;
    reg [7:0]  row;
    reg [31:0] send_cyc;
    reg [31:0] send_cycles;
    reg        pattern_load;
    reg        ev_valid;
    reg        ev_first;
    reg [12:0] ev_label;
    reg        wr_en;
    reg [7:0]  wr_row;
    reg        clear;
    reg        read;
    reg        reset_read;
    reg        cadc_start;
    reg [8*NEURONS-1:0] mem_codes;
    reg [8*NEURONS-1:0] base_codes;
    reg [63:0] n_key;
    reg [63:0] sample;
    reg        noise_req;

    wire [8*NEURONS-1:0] codes;
    wire [HEMISPHERES-1:0] cadc_done;
    wire [11*HEMISPHERES-1:0] cadc_leapt;
    reg  [31:0] seq_idle;
    // the hemispheres' ramps run in step: hemisphere 0's leap stands for all
    assign idle = seq_idle + {21'd0, cadc_leapt[10:0]};
    wire [64*NEURONS-1:0] v;
    wire [63:0] scale;

    // the vector being sent; its first row with a non-zero activation, and the first
    // after `row` (ROWS if none)
    reg [8*ROWS-1:0] cur;
    reg [7:0] first_row;
    reg [7:0] following_row;
    integer r;
    always @* begin
        first_row = ROWS[7:0];
        following_row = ROWS[7:0];
        for (r = ROWS - 1; r >= 0; r = r - 1) begin
            if (cur[8*r +: 8] != 8'd0) first_row = r[7:0];
            if (r > {24'd0, row} && cur[8*r +: 8] != 8'd0) following_row = r[7:0];
        end
    end

    // the outputs of a vector: membrane code - baseline code, clamped to int8
    integer n;
    reg signed [9:0] diff;
    reg [8*NEURONS-1:0] result;
    always @* begin
        for (n = 0; n < NEURONS; n = n + 1) begin
            diff = {2'b00, mem_codes[8*n +: 8]} - {2'b00, base_codes[8*n +: 8]};
            result[8*n +: 8] = diff < -10'sd128 ? 8'h80 : (diff > 10'sd127 ? 8'h7f : diff[7:0]);
        end
    end

    integer fd;
    integer m;

    always @(posedge clk) begin
        done <= 1'b0;
        pattern_load <= 1'b0;
        cycles <= cycles + 64'd1 + {32'd0, idle};
        seq_idle <= 32'd0;
        noise_req <= 1'b0;
        if (!rst_n) begin
            state <= S_IDLE;
            busy <= 1'b0;
            cycles <= 64'd0;
            ev_valid <= 1'b0;
            ev_first <= 1'b0;
            ev_label <= 13'd0;
            wr_en <= 1'b0;
            wr_row <= 8'd0;
            clear <= 1'b0;
            read <= 1'b0;
            reset_read <= 1'b0;
            cadc_start <= 1'b0;
            send_cycles <= 32'd0;
            seq_idle <= 32'd0;
            n_key <= 64'd0;
            sample <= 64'd0;
        end else case (state)
            S_IDLE: begin
                if (load) begin
                    $sformat(fname, "%0s/drivers.hex", dir);       $readmemh(fname, drv_par);
                    $sformat(fname, "%0s/neurons.hex", dir);       $readmemh(fname, npar);
                    $sformat(fname, "%0s/live.hex", dir);          $readmemh(fname, live);
                    $sformat(fname, "%0s/cadc.hex", dir);          $readmemh(fname, cpar);
                    $sformat(fname, "%0s/cadc_offset.hex", dir);   $readmemh(fname, coff);
                    $sformat(fname, "%0s/chip.hex", dir);          $readmemh(fname, chipw);
                    $sformat(fname, "%0s/flags.hex", dir);         $readmemh(fname, flags);
                    $sformat(fname, "%0s/ramp.hex", dir);          $readmemh(fname, ramp);
                    $sformat(fname, "%0s/code_map.hex", dir);      $readmemh(fname, cmap);
                    $sformat(fname, "%0s/noise.hex", dir);         $readmemh(fname, spar);
                    pattern_load <= 1'b1;
                    done <= 1'b1;
                end else if (configure) begin
                    $sformat(fname, "%0s/weights.hex", dir);       $readmemh(fname, wmem);
                    $sformat(fname, "%0s/driver_config.hex", dir); $readmemh(fname, drv_cfg);
                    row <= 8'd0;
                    busy <= 1'b1;
                    state <= S_CFG;
                end else if (start) begin
                    $sformat(fname, "%0s/inputs.hex", dir);
                    $readmemh(fname, inputs, 0, {15'd0, batch} - 1);
                    n_batch <= batch;
                    n_sends <= num_sends;
                    n_wait <= wait_cycles;
                    n_key <= noise_key;
                    sample <= {32'd0, sample0};
                    b <= 17'd0;
                    busy <= 1'b1;
                    state <= S_VEC;
                end
            end
            S_CFG: begin
                if ({1'b0, row} == 9'd2 * ROWS[8:0]) begin
                    wr_en <= 1'b0;
                    busy <= 1'b0;
                    done <= 1'b1;
                    state <= S_IDLE;
                end else begin
                    wr_en <= 1'b1;
                    wr_row <= row;
                    row <= row + 8'd1;
                end
            end
            S_VEC: begin
                cur <= inputs[b[IW-1:0]];
                noise_req <= f32_readout;
                clear <= 1'b1;
                s <= 11'd0;
                state <= S_SEND;
            end
            S_SEND: begin
                clear <= 1'b0;
                send_cyc <= 32'd0;
                if (first_row == ROWS[7:0]) begin
                    state <= S_SEND_END;
                end else begin
                    ev_valid <= 1'b1;
                    ev_first <= s == 11'd0;
                    ev_label <= {first_row[1:0], first_row[6:2], 1'b0, cur[8*first_row +: 5]};
                    row <= first_row;
                    slot_left <= n_wait;
                    state <= S_SLOT;
                end
            end
            S_SLOT: begin
                send_cyc <= send_cyc + 32'd1 + seq_idle;
                ev_valid <= 1'b0;
                if (slot_left != 12'd0) begin
                    // the edges of slot_left - 1 .. 1 change nothing but the counters
                    if (skip_en && slot_left > 12'd1) begin
                        seq_idle <= {20'd0, slot_left - 12'd1};
                        slot_left <= 12'd0;
                    end else begin
                        slot_left <= slot_left - 12'd1;
                    end
                end else begin
                    if (following_row == ROWS[7:0]) begin
                        state <= S_SEND_END;
                    end else begin
                        ev_valid <= 1'b1;
                        ev_label <= {following_row[1:0], following_row[6:2], 1'b0, cur[8*following_row +: 5]};
                        row <= following_row;
                        slot_left <= n_wait;
                    end
                end
            end
            S_SEND_END: begin
                send_cycles <= send_cyc;
                if (skip_en && s == 11'd0 && n_sends > 11'd1) begin
                    // sends 1 .. n_sends - 1, of send_cyc + 2 cycles each, are idle; the
                    // edge after them is the last send's end
                    seq_idle <= {21'd0, n_sends - 11'd1} * (send_cyc + 32'd2) - 32'd1;
                    s <= n_sends - 11'd1;
                end else if (s + 11'd1 < n_sends) begin
                    s <= s + 11'd1;
                    state <= S_SEND;
                end else begin
                    state <= S_READ;
                end
            end
            S_READ: begin
                read <= 1'b1;
                state <= S_CONV_MEM;
            end
            S_CONV_MEM: begin
                read <= 1'b0;
                cadc_start <= 1'b1;
                state <= S_WAIT_MEM;
            end
            S_WAIT_MEM: begin
                cadc_start <= 1'b0;
                if (cadc_done[0]) begin
                    mem_codes <= codes;
                    reset_read <= 1'b1;
                    state <= S_CONV_BASE;
                end
            end
            S_CONV_BASE: begin
                reset_read <= 1'b0;
                cadc_start <= 1'b1;
                state <= S_WAIT_BASE;
            end
            S_WAIT_BASE: begin
                cadc_start <= 1'b0;
                if (cadc_done[0]) begin
                    base_codes <= codes;
                    state <= S_STORE;
                end
            end
            S_STORE: begin
                outputs[b[IW-1:0]] <= result;
                b <= b + 17'd1;
                sample <= sample + 64'd1;
                state <= (b + 17'd1 == n_batch) ? S_FINISH : S_VEC;
            end
            S_FINISH: begin
                $sformat(fname, "%0s/outputs.hex", dir);
                /* verilator lint_off BLKSEQ */  // a file handle and a loop index: procedural by nature
                fd = $fopen(fname, "w");
                for (m = 0; m < {15'd0, n_batch}; m = m + 1) $fdisplay(fd, "%h", outputs[m[IW-1:0]]);
                /* verilator lint_on BLKSEQ */
                $fclose(fd);
                busy <= 1'b0;
                done <= 1'b1;
                state <= S_IDLE;
            end
            default: state <= S_IDLE;
        endcase
    end

    // -- the leak, shared by all neurons ----------------------------------------------------
    bss2_neuron_leak leak (.send_cycles(send_cycles), .num_sends(n_sends), .gain_bits(chipw[0]),
                           .tau_bits(chipw[1]), .leak_on(leak_on), .scale_bits(scale));

    // -- the hemispheres --------------------------------------------------------------------
    genvar h, i, c;
    generate
        for (h = 0; h < HEMISPHERES; h = h + 1) begin : hemisphere
            wire [ROWS-1:0] hit;
            wire [64*ROWS-1:0] pulse;
            wire [6*ROWS-1:0] label;
            wire [2*ROWS-1:0] exc;
            wire [2*ROWS-1:0] inh;
            wire charge_valid;
            wire [64*COLUMNS-1:0] charge;
            for (i = 0; i < ROWS; i = i + 1) begin : driver
                bss2_synapse_driver driver (
                    .event_valid(ev_valid), .event_label(ev_label), .cfg(drv_cfg[h*ROWS + i]),
                    .gain_bits(drv_par[(h*ROWS + i)*3]), .curvature_bits(drv_par[(h*ROWS + i)*3 + 1]),
                    .offset_bits(drv_par[(h*ROWS + i)*3 + 2]), .hit(hit[i]), .row_label(label[6*i +: 6]),
                    .row_exc(exc[2*i +: 2]), .row_inh(inh[2*i +: 2]), .pulse_bits(pulse[64*i +: 64]));
            end
            bss2_synapse_array #(.ROWS(ROWS), .COLUMNS(COLUMNS), .HEMISPHERE(h)) array (
                .clk(clk), .load(pattern_load), .dir(dir), .wr_en(wr_en), .wr_row(wr_row),
                .wr_data(wmem[h*2*ROWS + wr_row]), .drv_hit(hit), .drv_pulse(pulse), .drv_label(label),
                .drv_exc(exc), .drv_inh(inh), .integrate(ev_first), .charge_valid(charge_valid),
                .charge(charge));
            wire [64*COLUMNS-1:0] frac;
            wire [64*COLUMNS-1:0] slope;
            wire [10*COLUMNS-1:0] offset;
            for (c = 0; c < COLUMNS; c = c + 1) begin : neuron
                localparam [8:0] INDEX = h * 256 + c;   // the full chip's neuron
                wire [31:0] n1, n2;
                wire noise_valid;
                wire [4:0] oct1, oct2;
                bss2_noise noise (
                    .clk(clk), .rst(~rst_n), .in_valid(noise_req), .key(n_key),
                    .counter({sample[54:0], INDEX}), .out_valid(noise_valid), .n1(n1), .n2(n2),
                    .oct1(oct1), .oct2(oct2));
                wire unused_noise = &{1'b0, noise_valid, oct1, oct2};
                bss2_neuron neuron (
                    .clk(clk), .clear(clear), .charge_valid(charge_valid),
                    .charge_bits(charge[64*c +: 64]), .read(read), .reset_read(reset_read),
                    .scale_bits(scale), .f32_readout(f32_readout), .compress(compress),
                    .live(live[h*COLUMNS + c]), .knee_pos_bits(npar[(h*COLUMNS + c)*4]),
                    .knee_neg_bits(npar[(h*COLUMNS + c)*4 + 1]), .rail_pos_bits(npar[(h*COLUMNS + c)*4 + 2]),
                    .rail_neg_bits(npar[(h*COLUMNS + c)*4 + 3]),
                    .sigma_read_bits(spar[(h*COLUMNS + c)*2]), .sigma_base_bits(spar[(h*COLUMNS + c)*2 + 1]),
                    .n1(n1), .n2(n2), .v_bits(v[64*(h*COLUMNS + c) +: 64]));
                assign frac[64*c +: 64] = cpar[(h*COLUMNS + c)*2];
                assign slope[64*c +: 64] = cpar[(h*COLUMNS + c)*2 + 1];
                assign offset[10*c +: 10] = coff[h*COLUMNS + c];
            end
            bss2_cadc #(.CHANNELS(COLUMNS)) cadc (
                .clk(clk), .rst_n(rst_n), .start(cadc_start), .leap(skip_en), .ramp_lo(ramp[0]),
                .ramp_hi(ramp[1]), .f32_readout(f32_readout), .v(v[64*COLUMNS*h +: 64*COLUMNS]),
                .frac(frac), .slope(slope), .offset(offset), .code_map(code_map),
                .codes(codes[8*COLUMNS*h +: 8*COLUMNS]), .done(cadc_done[h]),
                .leapt(cadc_leapt[11*h +: 11]));
        end
    endgenerate
endmodule
