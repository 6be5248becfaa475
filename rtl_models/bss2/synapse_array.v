// synapse_array.v -- the synapse array of one hemisphere (emulator/bss2/synapse_array.py).
//
// Parameters: ROWS drivers (2 * ROWS synapse rows: row 2i excitatory, row 2i+1
// inhibitory in MAC mode), COLUMNS columns (neurons), HEMISPHERE (0 or 1: which
// session files to read), FULL_COLUMNS (256: columns of the full hemisphere,
// whose middle is where the drivers sit). Column c of the array is column c of
// the full hemisphere.
//
// Fixed pattern, read from the session directory `dir` (a string) at the rising
// edge of `load`:
//   synapse_gain_<h>.hex  2 * ROWS * COLUMNS doubles (row-major): weight-DAC gain (float32 values)
//   stuck_<h>.hex         2 * ROWS * COLUMNS 12-bit {mask[5:0], value[5:0]}: stuck weight bits
//   column_<h>.hex        1 + COLUMNS doubles: the line attenuation, then each column's
//                         neuron integration gain
// Column factor (line loss and neuron gain, as the emulator folds them into its
// effective weights): f32((1 - attenuation * |c - 127.5| / 127.5) * neuron_gain[c]).
//
// Synapse memory: wr_en writes synapse row wr_row (0 .. 2 * ROWS - 1) at the rising
// clock edge, wr_data[12 c +: 12] = {label, weight} of column c.
//
// Event path (one event per cycle, at most one driver with a hit: the drivers' row
// selects differ). At the rising clock edge of an event the array takes the row
// pair of the driver with the hit, k (its two synapse rows: stored words, stuck
// bits, gains; the driver's label, row modes and pulse) into its row buffer: one
// row read per event, so only the addressed rows are evaluated, not the whole
// array. One bss2_synapse per column and row of the pair charges from the buffer;
// column c then forms
//   charge[c] = f32(f32(f32(t0 + t1) * column_factor[c]) * pulse_k)
// with t_r = +-(synapse charge of row r of driver k) by the row's sign: the
// emulator's effective weight times the pulse, as its C core forms the product.
// The charges of all columns are registered together at the next edge (one update
// of the bus per event): charge and charge_valid hold them in the second cycle after
// the event (latency two cycles). charge_valid is high only for events taken with
// `integrate` high (the sequencer integrates the first send of a vector). A hit on a
// driver with both rows off passes +0.
/* verilator lint_off DECLFILENAME */

module bss2_synapse_array #(
    parameter ROWS = 32,
    parameter COLUMNS = 32,
    parameter HEMISPHERE = 0,
    parameter FULL_COLUMNS = 256
) (
    input  wire                   clk,
    input  wire                   load,
    input  wire [8*512-1:0]       dir,
    input  wire                   wr_en,
    input  wire [7:0]             wr_row,
    input  wire [12*COLUMNS-1:0]  wr_data,
    input  wire [ROWS-1:0]        drv_hit,
    input  wire [64*ROWS-1:0]     drv_pulse,
    input  wire [6*ROWS-1:0]      drv_label,
    input  wire [2*ROWS-1:0]      drv_exc,
    input  wire [2*ROWS-1:0]      drv_inh,
    input  wire                   integrate,
    output reg                    charge_valid,
    output reg  [64*COLUMNS-1:0]  charge
);
    `include "float32.vh"
    localparam SYNAPSES = 2 * ROWS * COLUMNS;

    reg [63:0] gain [0:SYNAPSES-1];
    reg [11:0] stored [0:SYNAPSES-1];
    reg [11:0] stuck [0:SYNAPSES-1];
    reg [63:0] column_file [0:COLUMNS];
    reg [8*600-1:0] fname;
    integer n;
    reg loaded;

    initial begin
        for (n = 0; n < SYNAPSES; n = n + 1) begin
            gain[n] = $realtobits(1.0);
            stuck[n] = 12'd0;
            stored[n] = 12'd0;
        end
        loaded = 1'b0;
        column_file[0] = 64'd0;
        for (n = 1; n <= COLUMNS; n = n + 1) column_file[n] = $realtobits(1.0);
    end

    always @(posedge load) begin
        $sformat(fname, "%0s/synapse_gain_%0d.hex", dir, HEMISPHERE);
        $readmemh(fname, gain);
        $sformat(fname, "%0s/stuck_%0d.hex", dir, HEMISPHERE);
        $readmemh(fname, stuck);
        $sformat(fname, "%0s/column_%0d.hex", dir, HEMISPHERE);
        $readmemh(fname, column_file);
        loaded <= ~loaded;
    end

    // the driver with the hit (the lowest one, should several hit)
    integer r;
    reg [7:0] k;
    always @* begin
        k = 8'd0;
        for (r = ROWS - 1; r >= 0; r = r - 1) if (drv_hit[r]) k = r[7:0];
    end

    // the row buffer: the driver's part, taken at the edge of the event
    reg        valid_r;
    reg [5:0]  label_r;
    reg [1:0]  on_r;
    reg [1:0]  neg_r;
    reg [63:0] pulse_r;
    initial begin
        valid_r = 1'b0;
        label_r = 6'd0;
        on_r = 2'd0;
        neg_r = 2'd0;
        pulse_r = 64'd0;
        charge_valid = 1'b0;
    end
    always @(posedge clk) begin
        valid_r <= |drv_hit & integrate;
        charge_valid <= valid_r;
        buffered <= |drv_hit;
        if (|drv_hit) begin
            label_r <= drv_label[6*k +: 6];
            on_r <= drv_exc[2*k +: 2] | drv_inh[2*k +: 2];
            neg_r <= drv_inh[2*k +: 2];
            pulse_r <= drv_pulse[64*k +: 64];
        end
    end
    reg buffered;   // the row buffer took an event at the last edge
    initial buffered = 1'b0;

    // the synapse memory: one row per write
    integer w;
    always @(posedge clk)
        if (wr_en)
            for (w = 0; w < COLUMNS; w = w + 1) stored[{24'd0, wr_row} * COLUMNS + w] <= wr_data[12*w +: 12];

    genvar c;
    generate
        for (c = 0; c < COLUMNS; c = c + 1) begin : column
            // line loss and neuron gain of this column
            real distance;
            reg [63:0] factor;
            always @(loaded or column_file[0] or column_file[c + 1]) begin
                distance = ($itor(c) - (FULL_COLUMNS - 1) / 2.0) / ((FULL_COLUMNS - 1) / 2.0);
                if (distance < 0.0) distance = -distance;
                factor = $realtobits(f32((1.0 - $bitstoreal(column_file[0]) * distance)
                                         * $bitstoreal(column_file[c + 1])));
            end
            // the column's cells of the row pair of driver k
            reg [11:0] st0, st1, sk0, sk1;
            reg [63:0] g0, g1;
            initial begin
                st0 = 12'd0; st1 = 12'd0; sk0 = 12'd0; sk1 = 12'd0;
                g0 = 64'd0; g1 = 64'd0;
            end
            always @(posedge clk)
                if (|drv_hit) begin
                    st0 <= stored[(2*{24'd0, k})*COLUMNS + c];
                    st1 <= stored[(2*{24'd0, k} + 1)*COLUMNS + c];
                    sk0 <= stuck[(2*{24'd0, k})*COLUMNS + c];
                    sk1 <= stuck[(2*{24'd0, k} + 1)*COLUMNS + c];
                    g0 <= gain[(2*{24'd0, k})*COLUMNS + c];
                    g1 <= gain[(2*{24'd0, k} + 1)*COLUMNS + c];
                end
            wire [63:0] q0;
            wire [63:0] q1;
            bss2_synapse exc (.stored(st0), .stuck_mask(sk0[11:6]), .stuck_value(sk0[5:0]), .gain_bits(g0),
                              .row_on(on_r[0]), .row_label(label_r), .charge_bits(q0));
            bss2_synapse inh (.stored(st1), .stuck_mask(sk1[11:6]), .stuck_value(sk1[5:0]), .gain_bits(g1),
                              .row_on(on_r[1]), .row_label(label_r), .charge_bits(q1));
            // formed at the edge after the row buffer took the event, once per event (not
            // again for every input of the column that settles after that edge)
            wire [63:0] t0 = {q0[63] ^ neg_r[0], q0[62:0]};
            wire [63:0] t1 = {q1[63] ^ neg_r[1], q1[62:0]};
            initial charge[64*c +: 64] = 64'd0;
            always @(posedge clk)
                if (buffered)
                    charge[64*c +: 64] <= $realtobits(f32(f32(f32($bitstoreal(t0) + $bitstoreal(t1))
                                                              * $bitstoreal(factor)) * $bitstoreal(pulse_r)));
        end
    endgenerate
endmodule
