// cadc.v -- the column ADC (emulator/bss2/cadc.py): a shared ramp and counter,
// one comparator and latch per channel, a per-channel digital offset.
//
// bss2_cadc_ramp (digital, synthesisable): the shared counter. A rising clock
// edge with start loads ramp_lo and starts the ramp; it then counts up by one
// per cycle to ramp_hi (signed 10-bit, codes) and stops; done is high for the
// one cycle after the last count. running: the counter is valid this cycle.
// With leap (a simulation-speed abstraction, chip.v's skip_en), the first count
// edge goes from ramp_lo straight to ramp_hi (leaping = 1 during that cycle) and
// leapt holds the ramp_hi - ramp_lo - 1 counts it passed over for the cycle after
// it (0 otherwise), for the clock generator to count as idle edges: the latches
// take at that edge what the counts in between would have left in them, so the
// codes and the counted cycles are those of the full ramp.
//
// bss2_cadc_channel (digital, synthesisable): one channel's latch. start clears
// the latch to ramp_lo - 1; in every running cycle with cmp (the comparator says
// input >= ramp) the latch takes the count. The ramp rises, so the latch ends on
// floor(input) within [ramp_lo - 1, ramp_hi]. In a leaping cycle it takes reach,
// min(floor(input), ramp_hi): the last count of the ramp's leap its comparator passes. code = clamp(latch + offset, 0, 255)
// with the channel's digital offset (integer codes, -256..255), valid while the ramp
// is not running (0 while it runs).
//
// bss2_cadc (CHANNELS channels): the ramp, one comparator per channel on the
// channel's analog input x, the latches, and the code map (missing codes).
//   x = f32(frac + f32(slope * v))   (f32_readout = 1, the emulator's float32 readout)
//   x = frac + slope * v             (f32_readout = 0, double)
// v: the neuron's membrane excursion (LSB, double bits); frac, slope: the channel's
// fixed pattern (float32 values as doubles): offset + slope * baseline =
// digital offset + frac. The ramp spans ramp_lo..ramp_hi, set by the pattern so
// that every code 0..255 of every channel is reachable (ramp_lo <= -max offset,
// ramp_hi >= 255 - min offset); a conversion takes ramp_hi - ramp_lo + 2 cycles.
// codes[8 n +: 8] = code_map[code of channel n], valid from done on.
// leap, leapt: the ramp's leap (bss2_cadc_ramp); leap = 0 converts count by count.
/* verilator lint_off DECLFILENAME */

module bss2_cadc_ramp (
    input  wire              clk,
    input  wire              rst_n,
    input  wire              start,
    input  wire              leap,
    input  wire signed [9:0] ramp_lo,
    input  wire signed [9:0] ramp_hi,
    output reg  signed [9:0] count,
    output reg               running,
    output reg               done,
    output wire              leaping,
    output reg  [10:0]       leapt
);
    // in 11 bits: ramp_hi - ramp_lo reaches 1023
    wire [10:0] span = {ramp_hi[9], ramp_hi} - {ramp_lo[9], ramp_lo};
    assign leaping = leap && running && count == ramp_lo && span > 11'd1;
    always @(posedge clk) begin
        leapt <= 11'd0;
        if (!rst_n) begin
            count <= 10'sd0;
            running <= 1'b0;
            done <= 1'b0;
        end else if (start) begin
            count <= ramp_lo;
            running <= 1'b1;
            done <= 1'b0;
        end else if (running) begin
            if (count == ramp_hi) begin
                running <= 1'b0;
                done <= 1'b1;
            end else if (leaping) begin
                count <= ramp_hi;
                leapt <= span - 11'd1;
            end else begin
                count <= count + 10'sd1;
            end
        end else begin
            done <= 1'b0;
        end
    end
endmodule

module bss2_cadc_channel (
    input  wire              clk,
    input  wire              start,
    input  wire              running,
    input  wire              cmp,
    input  wire              leaping,
    input  wire signed [10:0] reach,
    input  wire signed [9:0] count,
    input  wire signed [9:0] ramp_lo,
    input  wire signed [9:0] offset,
    output wire [7:0]        code
);
    reg signed [10:0] latch;
    initial latch = 11'sd0;
    always @(posedge clk) begin
        if (start) latch <= {ramp_lo[9], ramp_lo} - 11'sd1;
        else if (running && cmp) latch <= leaping ? reach : {count[9], count};
    end
    // the code is formed from the latch once the ramp has stopped (0 while it runs), so
    // the latch's steps during a conversion go no further than the latch
    wire signed [10:0] held = running ? 11'sd0 : latch;
    wire signed [11:0] sum = {held[10], held} + {{2{offset[9]}}, offset};
    assign code = running ? 8'd0 : (sum < 12'sd0 ? 8'd0 : (sum > 12'sd255 ? 8'd255 : sum[7:0]));
endmodule

`ifndef SYNTHESIS  // the analog part (real arithmetic); Yosys reads only the digital modules above
module bss2_cadc #(
    parameter CHANNELS = 32
) (
    input  wire                    clk,
    input  wire                    rst_n,
    input  wire                    start,
    input  wire                    leap,
    input  wire signed [9:0]       ramp_lo,
    input  wire signed [9:0]       ramp_hi,
    input  wire                    f32_readout,
    input  wire [64*CHANNELS-1:0]  v,
    input  wire [64*CHANNELS-1:0]  frac,
    input  wire [64*CHANNELS-1:0]  slope,
    input  wire [10*CHANNELS-1:0]  offset,
    input  wire [8*256-1:0]        code_map,
    output wire [8*CHANNELS-1:0]   codes,
    output wire                    done,
    output wire [10:0]             leapt
);
    `include "float32.vh"
    wire signed [9:0] count;
    wire running, leaping;
    bss2_cadc_ramp ramp (.clk(clk), .rst_n(rst_n), .start(start), .leap(leap), .ramp_lo(ramp_lo),
                         .ramp_hi(ramp_hi), .count(count), .running(running), .done(done),
                         .leaping(leaping), .leapt(leapt));
    genvar n;
    generate
        for (n = 0; n < CHANNELS; n = n + 1) begin : channel
            // the comparator: x >= count for an integer count is floor(x) >= count, so the
            // analog input sets the channel's threshold once, when it changes, and the
            // comparison per ramp step is on integers (bounded to the 10-bit ramp range)
            real x;
            reg signed [10:0] threshold;
            /* verilator lint_off UNUSEDSIGNAL */
            integer whole;   // only its low 11 bits are the threshold (bounded above)
            /* verilator lint_on UNUSEDSIGNAL */
            always @* begin
                whole = 0;
                if (f32_readout)
                    x = f32($bitstoreal(frac[64*n +: 64])
                            + f32($bitstoreal(slope[64*n +: 64]) * $bitstoreal(v[64*n +: 64])));
                else
                    x = $bitstoreal(frac[64*n +: 64])
                        + $bitstoreal(slope[64*n +: 64]) * $bitstoreal(v[64*n +: 64]);
                if (x >= 512.0) threshold = 11'sd512;
                else if (x >= -513.0) begin
                    whole = $rtoi($floor(x));
                    threshold = whole[10:0];
                end
                else threshold = -11'sd513;   // also NaN: never at or above the ramp
            end
            wire cmp = threshold >= $signed({count[9], count});
            wire signed [10:0] reach = threshold < $signed({ramp_hi[9], ramp_hi}) ? threshold
                                                                                  : {ramp_hi[9], ramp_hi};
            wire [7:0] code;
            bss2_cadc_channel ch (.clk(clk), .start(start), .running(running), .cmp(cmp),
                                  .leaping(leaping), .reach(reach), .count(count), .ramp_lo(ramp_lo),
                                  .offset(offset[10*n +: 10]), .code(code));
            assign codes[8*n +: 8] = code_map[8*code +: 8];
        end
    endgenerate
endmodule
`endif
