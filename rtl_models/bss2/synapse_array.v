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
// Event path (combinational, one event per cycle, at most one driver with a hit:
// the drivers' row selects differ): the driver with the hit, k. Column c receives
//   charge[c] = f32(f32(f32(t0 + t1) * column_factor[c]) * pulse_k)
// with t_r = +-(synapse charge of row r of driver k) by the row's sign: the
// emulator's effective weight times the pulse, as its C core forms the product.
// charge_valid is 1 when some driver has a hit.
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
    output wire                   charge_valid,
    output wire [64*COLUMNS-1:0]  charge
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

    assign charge_valid = |drv_hit;

    // the synapse memory: one row per write
    integer w;
    always @(posedge clk)
        if (wr_en)
            for (w = 0; w < COLUMNS; w = w + 1) stored[{24'd0, wr_row} * COLUMNS + w] <= wr_data[12*w +: 12];

    genvar i, c;
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
            wire [63:0] pair [0:ROWS-1];
            for (i = 0; i < ROWS; i = i + 1) begin : driver
                wire [63:0] q0;
                wire [63:0] q1;
                bss2_synapse exc (
                    .stored(stored[(2*i)*COLUMNS + c]),
                    .stuck_mask(stuck[(2*i)*COLUMNS + c][11:6]), .stuck_value(stuck[(2*i)*COLUMNS + c][5:0]),
                    .gain_bits(gain[(2*i)*COLUMNS + c]), .row_on(drv_exc[2*i] | drv_inh[2*i]),
                    .row_label(drv_label[6*i +: 6]), .charge_bits(q0));
                bss2_synapse inh (
                    .stored(stored[(2*i + 1)*COLUMNS + c]),
                    .stuck_mask(stuck[(2*i + 1)*COLUMNS + c][11:6]),
                    .stuck_value(stuck[(2*i + 1)*COLUMNS + c][5:0]),
                    .gain_bits(gain[(2*i + 1)*COLUMNS + c]), .row_on(drv_exc[2*i + 1] | drv_inh[2*i + 1]),
                    .row_label(drv_label[6*i +: 6]), .charge_bits(q1));
                real t0, t1;
                reg [63:0] out;
                always @* begin
                    t0 = 0.0;
                    t1 = 0.0;
                    out = 64'd0;
                    if (drv_hit[i]) begin
                        t0 = $bitstoreal(q0);
                        t1 = $bitstoreal(q1);
                        if (drv_inh[2*i]) t0 = -t0;
                        if (drv_inh[2*i + 1]) t1 = -t1;
                        out = $realtobits(f32(f32(f32(t0 + t1) * $bitstoreal(factor))
                                              * $bitstoreal(drv_pulse[64*i +: 64])));
                    end
                end
                assign pair[i] = out;
            end
            // only the driver with the hit passes a non-zero charge
            reg [63:0] sum;
            integer k;
            always @* begin
                sum = 64'd0;
                for (k = 0; k < ROWS; k = k + 1) sum = sum | pair[k];
            end
            assign charge[64*c +: 64] = sum;
        end
    endgenerate
endmodule
