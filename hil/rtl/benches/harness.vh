// harness.vh -- what the bench harnesses of hil/rtl/benches share, included inside their
// module: the clock (10 time units), the session directory `dir` (+BSS2_DIR, default ".")
// with a file-name buffer, and the seeded fault `mutate` (+BENCH_MUTATE=n, 0: none) that
// the benches' self-tests use to show a wrong block is caught.
    reg clk = 1'b0;
    always #5 clk = ~clk;

    reg [8*512-1:0] dir;
    reg [8*600-1:0] fname;
    integer mutate;
    initial begin
        if (!$value$plusargs("BSS2_DIR=%s", dir)) dir = ".";
        if (!$value$plusargs("BENCH_MUTATE=%d", mutate)) mutate = 0;
    end
