// neuron.v -- cocotb harness of the neurons (rtl_models/bss2/neuron.v), driven by
// hil/rtl/benches/neuron.py. Not a model: a bench around one.
//
// NEURONS bss2_neuron and one bss2_neuron_leak, with the fixed pattern of the session
// directory (+BSS2_DIR; files of hil/rtl/fixed_pattern.py for a core of NEURONS neurons:
// neurons.hex, live.hex, chip.hex, flags.hex), read at the first start. The clock (10
// time units) is generated here. The cocotb test writes `count` vectors to
// neuron_stim.hex, 1 + 4 * NEURONS lines each (vector p from line p * (1 + 4 * NEURONS)):
//   {num_sends[10:0], send_cycles[31:0]}, then charge e = 0..3 of neuron n at line
//   1 + 4 n + e (weight LSB x activation units, a double bit pattern)
// and raises `start`. Per vector the harness clears the integrators, integrates the four
// charges (one per clock), reads the membrane with the leak's scale, then resets it
// (reset_read) and writes one line to neuron_resp.hex:
//   {zero_after_reset[NEURONS-1:0], scale_bits[63:0], v_bits of neuron NEURONS-1 .. 0}
// and raises `done` until `start` falls.
// Fault seeding (the bench's self-test): +BENCH_MUTATE=1 drops the last charge of each vector.
module neuron_bench #(
    parameter NEURONS = 32,
    parameter DEPTH = 1024
) (
    input  wire        start,
    input  wire [31:0] count,      // vectors in the batch, 1..DEPTH
    output reg         done
);
    localparam LINES = 1 + 4 * NEURONS;
    `include "harness.vh"

    reg [63:0] stim [0:DEPTH*LINES - 1];
    reg [63:0] npar [0:4*NEURONS - 1];
    reg        live [0:NEURONS - 1];
    reg [63:0] chipw [0:1];
    reg [2:0]  flags [0:0];
    initial flags[0] = 3'd0;

    reg [31:0] p = 32'd0;
    reg [1:0]  e = 2'd0;
    reg clear = 1'b0, charge_valid = 1'b0, read = 1'b0, reset_read = 1'b0;
    wire [63:0] head = stim[p*LINES];
    wire [63:0] scale;
    bss2_neuron_leak leak (.send_cycles(head[31:0]), .num_sends(head[42:32]), .gain_bits(chipw[0]),
                           .tau_bits(chipw[1]), .leak_on(flags[0][2]), .scale_bits(scale));
    wire [64*NEURONS-1:0] v;
    wire [NEURONS-1:0] zero;
    genvar n;
    generate
        for (n = 0; n < NEURONS; n = n + 1) begin : neuron
            bss2_neuron dut (
                .clk(clk), .clear(clear), .charge_valid(charge_valid),
                .charge_bits(stim[p*LINES + 1 + 4*n + e]), .read(read), .reset_read(reset_read),
                .scale_bits(scale), .f32_readout(flags[0][0]), .compress(flags[0][1]), .live(live[n]),
                .knee_pos_bits(npar[4*n]), .knee_neg_bits(npar[4*n + 1]), .rail_pos_bits(npar[4*n + 2]),
                .rail_neg_bits(npar[4*n + 3]), .v_bits(v[64*n +: 64]));
            assign zero[n] = v[64*n +: 64] == 64'd0;
        end
    endgenerate

    localparam S_IDLE = 3'd0, S_CLEAR = 3'd1, S_CHARGE = 3'd2, S_READ = 3'd3, S_HOLD = 3'd4,
               S_RESET = 3'd5, S_WRITE = 3'd6;
    reg [2:0] state = S_IDLE;
    reg start_q = 1'b0, loaded = 1'b0;
    reg [64*NEURONS-1:0] v_read;
    reg [63:0] scale_read;
    integer fd = 0;
    initial done = 1'b0;

    always @(posedge clk) begin
        start_q <= start;
        clear <= 1'b0;
        charge_valid <= 1'b0;
        read <= 1'b0;
        reset_read <= 1'b0;
        if (!start) done <= 1'b0;
        case (state)
            S_IDLE:
                if (start && !start_q) begin
                    if (!loaded) begin
                        $sformat(fname, "%0s/neurons.hex", dir); $readmemh(fname, npar);
                        $sformat(fname, "%0s/live.hex", dir);    $readmemh(fname, live);
                        $sformat(fname, "%0s/chip.hex", dir);    $readmemh(fname, chipw);
                        $sformat(fname, "%0s/flags.hex", dir);   $readmemh(fname, flags);
                        loaded <= 1'b1;
                    end
                    $sformat(fname, "%0s/neuron_stim.hex", dir);
                    $readmemh(fname, stim, 0, count * LINES - 1);
                    $sformat(fname, "%0s/neuron_resp.hex", dir);
                    fd = $fopen(fname, "w");
                    p <= 32'd0;
                    clear <= 1'b1;
                    state <= S_CLEAR;
                end
            S_CLEAR: begin            // the clear acts at this edge; the charges follow
                e <= 2'd0;
                charge_valid <= 1'b1;
                state <= S_CHARGE;
            end
            S_CHARGE: begin           // charge e is added at this edge
                if (e == 2'd3) begin
                    read <= 1'b1;
                    state <= S_READ;
                end else begin
                    e <= e + 2'd1;
                    charge_valid <= !(mutate == 1 && e == 2'd2);
                end
            end
            S_READ: state <= S_HOLD;  // the read acts at this edge
            S_HOLD: begin
                v_read <= v;
                scale_read <= scale;
                reset_read <= 1'b1;
                state <= S_RESET;
            end
            S_RESET: state <= S_WRITE;  // the reset read acts at this edge
            S_WRITE: begin
                $fdisplay(fd, "%h", {zero, scale_read, v_read});
                if (p + 32'd1 == count) begin
                    $fclose(fd);
                    done <= 1'b1;
                    state <= S_IDLE;
                end else begin
                    p <= p + 32'd1;
                    clear <= 1'b1;
                    state <= S_CLEAR;
                end
            end
            default: state <= S_IDLE;
        endcase
    end
endmodule
