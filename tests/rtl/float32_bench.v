// float32_bench.v: test harness of the float32 helpers (rtl_models/bss2/float32.vh).
//
// At time 0 it reads COUNT cases from STIM_FILE, one per line {x[63:0], w[31:0]}
// (x: a double's bits, w: a float32 pattern), and writes to RESP_FILE one line per
// case {f32(x)[63:0], f32_to_bits(x)[31:0], f32_from_bits(w)[63:0]} (as double bits),
// then raises `done`. The cocotb side (float32_bench.py) compares with numpy.
module float32_bench #(
    parameter COUNT = 4096,
    parameter STIM_FILE = "float32_stim.hex",
    parameter RESP_FILE = "float32_resp.hex"
) (
    output reg done
);
`include "float32.vh"

    reg [95:0]  stim [0:COUNT - 1];
    reg [159:0] resp [0:COUNT - 1];
    integer j;

    initial begin
        done = 1'b0;
        $readmemh(STIM_FILE, stim);
        for (j = 0; j < COUNT; j = j + 1)
            resp[j] = {$realtobits(f32($bitstoreal(stim[j][95:32]))),
                       f32_to_bits($bitstoreal(stim[j][95:32])),
                       $realtobits(f32_from_bits(stim[j][31:0]))};
        $writememh(RESP_FILE, resp);
        #1 done = 1'b1;
    end
endmodule
