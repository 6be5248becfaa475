// synapse_driver.v -- the synapse driver (emulator/bss2/synapse_driver.py).
//
// bss2_synapse_driver_decode (digital, synthesisable): decodes one event label.
//   event_label[12:0] = {bus[1:0], row_select[4:0], address[5:0]}.
//   The driver takes the event when event_valid, the bus equals cfg_bus and
//   the row select equals cfg_row_select on every bit set in the 5-bit compare
//   mask cfg_mask (hit). In MAC ("hagen") mode, cfg_hagen = 1, the activation is
//   address[4:0] and the label sent to the synapses is {address[5], 5'b0};
//   otherwise the activation is 31 (a full pulse) and the label is the address.
//   cfg_row_mode = {mode of row 2i+1, mode of row 2i}, each 0 off, 1 excitatory,
//   2 inhibitory (3 off). row_exc / row_inh: bit 0 row 2i, bit 1 row 2i+1,
//   asserted only on a hit. Combinational, no clock.
//
// bss2_synapse_driver: the decode plus the driver's DAC curve. For a hit with
//   activation a > 0 the pulse length (activation units) is
//     f32(max(a * gain * (1 + curvature * (a / 31 - 1)) + (offset + (trim - 32) * 0.1), 0))
//   in double, rounded once to float32, as emulator/bss2/synapse_driver.py:
//   pulse_table; 0 otherwise. gain, curvature and offset (activation units) are
//   the driver's fixed pattern as 64-bit IEEE doubles; trim is the 6-bit offset
//   trim 0..63. pulse_bits is the pulse as a double bit pattern. Combinational:
//   the pulse is valid in the cycle of the event.
/* verilator lint_off DECLFILENAME */

module bss2_synapse_driver_decode (
    input  wire        event_valid,
    input  wire [12:0] event_label,
    input  wire [1:0]  cfg_bus,
    input  wire [4:0]  cfg_row_select,
    input  wire [4:0]  cfg_mask,
    input  wire        cfg_hagen,
    input  wire [3:0]  cfg_row_mode,
    output wire        hit,
    output wire [4:0]  activation,
    output wire [5:0]  row_label,
    output wire [1:0]  row_exc,
    output wire [1:0]  row_inh
);
    assign hit = event_valid && (event_label[12:11] == cfg_bus)
                 && (((event_label[10:6] ^ cfg_row_select) & cfg_mask) == 5'd0);
    assign activation = cfg_hagen ? event_label[4:0] : 5'd31;
    assign row_label = cfg_hagen ? {event_label[5], 5'd0} : event_label[5:0];
    assign row_exc = {cfg_row_mode[3:2] == 2'd1, cfg_row_mode[1:0] == 2'd1} & {2{hit}};
    assign row_inh = {cfg_row_mode[3:2] == 2'd2, cfg_row_mode[1:0] == 2'd2} & {2{hit}};
endmodule

`ifndef SYNTHESIS  // the analog part (real arithmetic); Yosys reads only the digital modules above
module bss2_synapse_driver (
    input  wire        event_valid,
    input  wire [12:0] event_label,
    input  wire [22:0] cfg,          // {trim[5:0], hagen, row_mode[3:0], mask[4:0], row_select[4:0], bus[1:0]}
    input  wire [63:0] gain_bits,
    input  wire [63:0] curvature_bits,
    input  wire [63:0] offset_bits,
    output wire        hit,
    output wire [5:0]  row_label,
    output wire [1:0]  row_exc,
    output wire [1:0]  row_inh,
    output reg  [63:0] pulse_bits
);
    `include "float32.vh"
    wire [4:0] activation;
    wire [5:0] trim = cfg[22:17];

    bss2_synapse_driver_decode decode (
        .event_valid(event_valid), .event_label(event_label), .cfg_bus(cfg[1:0]),
        .cfg_row_select(cfg[6:2]), .cfg_mask(cfg[11:7]), .cfg_row_mode(cfg[15:12]),
        .cfg_hagen(cfg[16]), .hit(hit), .activation(activation), .row_label(row_label),
        .row_exc(row_exc), .row_inh(row_inh));

    real a;
    real p;
    always @* begin
        a = $itor({27'd0, activation});
        if (!hit || activation == 5'd0) begin
            p = 0.0;
        end else begin
            p = a * $bitstoreal(gain_bits) * (1.0 + $bitstoreal(curvature_bits) * (a / 31.0 - 1.0))
                + ($bitstoreal(offset_bits) + ($itor({26'd0, trim}) - 32.0) * 0.1);
            if (p < 0.0) p = 0.0;
            p = f32(p);
        end
        pulse_bits = $realtobits(p);
    end
endmodule
`endif
