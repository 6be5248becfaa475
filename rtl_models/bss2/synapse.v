// synapse.v -- one synapse (emulator/bss2/synapse_array.py).
//
// Reads its 6-bit weight and 6-bit label from its memory stored (stored = {label[5:0],
// weight[5:0]}; the array holds the cells and writes them). The weight reads back through the
// stuck-bit fault: bits set in stuck_mask read stuck_value. When its row is on
// (row_on: the driver's row mode is excitatory or inhibitory, during a hit) and
// the row's event label equals the synapse's label, the synapse passes the
// charge per unit pulse f32(gain * weight) (weight LSB, float32 in a double bit
// pattern, charge_bits); otherwise +0. gain_bits: the weight DAC's relative gain
// (fixed pattern, a float32 value as a double). The sign of the row is applied
// by the array. Combinational output; valid in the cycle of the event.
/* verilator lint_off DECLFILENAME */

module bss2_synapse (
    input  wire [11:0] stored,
    input  wire [5:0]  stuck_mask,
    input  wire [5:0]  stuck_value,
    input  wire [63:0] gain_bits,
    input  wire        row_on,
    input  wire [5:0]  row_label,
    output reg  [63:0] charge_bits
);
    `include "float32.vh"
    wire [5:0] weight = stored[5:0];
    wire [5:0] label = stored[11:6];

    wire [5:0] weight_read = (weight & ~stuck_mask) | (stuck_value & stuck_mask);
    always @*
        if (row_on && row_label == label)
            charge_bits = $realtobits(f32($bitstoreal(gain_bits) * $itor({26'd0, weight_read})));
        else
            charge_bits = 64'd0;
endmodule
