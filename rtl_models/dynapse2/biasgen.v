// biasgen.v -- the digital part of the Dynap-SE2-like chip's bias generators
// (emulator/dynapse2/biasgen.py; docs/dynapse2.md, "RTL models"). Digital, synthesisable
// behavioural Verilog-2005.
//
// dynapse2_biasgen holds one setting register per core parameter per core: 4 cores x 23 parameters
// (parameter p in the order of emulator.dynapse2.biasgen.PARAMETERS: 0 Idc, 1 If_nmda, ...,
// 22 Iw_ahp), each (coarse 0..5, fine 0..255), and drives each generator's DAC with its code.
//
// Write port: while wr_en, (wr_coarse, wr_fine) is written to parameter wr_param of core wr_core at
// the clock edge. A write with wr_coarse > 5 or wr_param > 22 is refused: no register changes. One
// clock after every write exactly one of wr_done (taken) or wr_refused (refused) is high.
// At rst every register is (coarse 0, fine 0), the lowest current of its range.
//
// DAC code (15 bits), of generator g = core * 23 + parameter at dac[15 g +: 15]:
//   [14]   the output transistor's type, 1 for P, 0 for N (the last letter of the generator's name,
//          emulator.dynapse2.biasgen.DEVICE_NAMES; fixed per parameter, P_TYPE below);
//   [13:8] the coarse range select, one-hot: bit 8 + coarse (exactly one bit of a valid setting);
//   [7:0]  the fine code, the 8-bit DAC's binary input.
// The generator's current is then table[type][coarse, fine] * scale[parameter] (biasgen.current).
//
// Read port (combinational): rd_coarse, rd_fine and rd_code of parameter rd_param of core rd_core;
// for rd_param > 22 (no generator) all three are 0, and code 0 is no valid code.
/* verilator lint_off DECLFILENAME */

module dynapse2_biasgen (
    input  wire              clk,
    input  wire              rst,
    input  wire              wr_en,
    input  wire [1:0]        wr_core,
    input  wire [4:0]        wr_param,
    input  wire [2:0]        wr_coarse,
    input  wire [7:0]        wr_fine,
    output reg               wr_done,
    output reg               wr_refused,
    input  wire [1:0]        rd_core,
    input  wire [4:0]        rd_param,
    output wire [2:0]        rd_coarse,
    output wire [7:0]        rd_fine,
    output wire [14:0]       rd_code,
    output wire [4*23*15-1:0] dac
);
    localparam CORES = 4, PARAMETERS = 23, GENERATORS = CORES * PARAMETERS;
    localparam [2:0] COARSE_MAX = 3'd5;
    localparam [4:0] LAST_PARAMETER = 5'd22;
    // bit p: parameter p's generator has a P-type output transistor: Idc, Igain_ahp/ampa/gaba/nmda/shunt,
    // Ispkthr, Itau_ahp/ampa/gaba/nmda/shunt, Iw_0..3; N-type: If_nmda, Igain_mem, Ipulse_ahp, Ipulse,
    // Iref, Itau_mem, Iw_ahp (tests/rtl/dynapse2/test_biasgen.py holds it to the emulator's names)
    localparam [22:0] P_TYPE = 23'h3DF87D;

    function [14:0] code;
        input [10:0] setting;           // {coarse, fine}
        input        p_type;
        code = {p_type, 6'b000001 << setting[10:8], setting[7:0]};
    endfunction

    // The registers, one word per generator. Every word drives its DAC at all times, so they are
    // flip-flops with a write decoder, not a RAM: mem2reg tells Yosys so (simulators ignore it).
    (* mem2reg *) reg [10:0] settings [0:GENERATORS-1];
    wire [6:0]  wr_index = {5'd0, wr_core} * 7'd23 + {2'd0, wr_param};
    wire        wr_ok = wr_coarse <= COARSE_MAX && wr_param <= LAST_PARAMETER;
    integer k;
    always @(posedge clk) begin
        if (rst) begin
            for (k = 0; k < GENERATORS; k = k + 1) settings[k] <= 11'd0;
            wr_done <= 1'b0;
            wr_refused <= 1'b0;
        end else begin
            if (wr_en && wr_ok) settings[wr_index] <= {wr_coarse, wr_fine};
            wr_done <= wr_en && wr_ok;
            wr_refused <= wr_en && !wr_ok;
        end
    end

    genvar g;
    generate
        for (g = 0; g < GENERATORS; g = g + 1) begin : generator
            assign dac[15 * g +: 15] = code(settings[g], P_TYPE[g % PARAMETERS]);
        end
    endgenerate

    wire        rd_ok = rd_param <= LAST_PARAMETER;
    wire [6:0]  rd_index = {5'd0, rd_core} * 7'd23 + {2'd0, rd_param};
    wire [10:0] rd_setting = rd_ok ? settings[rd_index] : 11'd0;
    assign rd_coarse = rd_setting[10:8];
    assign rd_fine = rd_setting[7:0];
    assign rd_code = rd_ok ? code(rd_setting, P_TYPE[rd_param]) : 15'd0;
endmodule
