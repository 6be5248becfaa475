// neuron.v -- the neurons in MAC mode (emulator/bss2/neuron.py).
//
// bss2_neuron_leak (one per chip): the residual leak. From the duration of one
// send as the sequencer counted it, send_cycles FPGA cycles of 8 ns, and the
// number of sends S it gives the scale (output LSB per weight unit x pulse)
//   scale = gain * S_eff,  S_eff = (1 - l^S) / (1 - l),  l = exp(-(send_cycles * 8 ns) / tau)
// (S_eff = S when leak_on is 0, i.e. tau is infinite, or when l = 1), in double
// as emulator/bss2/neuron.py: effective_sends and the C core's scale table.
// gain_bits, tau_bits: the chip gain and the leak time constant (seconds) as
// doubles. Combinational.
//
// bss2_neuron: one neuron. The integrator holds the charge of one send, in
// weight LSB x activation units, as float32: at a rising clock edge, clear sets
// it to +0 and otherwise charge_valid adds charge_bits, acc = f32(acc + charge).
// All sends of one input vector carry the same events, so the sequencer
// integrates the first and counts the time of all; the leak's scale turns the
// charge of one send into the membrane after S sends. At a rising edge with read,
// the membrane excursion (LSB above the baseline) is formed:
//   f32_readout = 1 (the emulator's float32 readout):
//     v = f32(f32(acc * f32(scale)) * live), then compression toward the rails
//     beyond the knees (compress = 1):
//     v = f32(knee + (rail - knee) * tanh((v - knee) / (rail - knee)))
//   f32_readout = 0 (the exact readout of the ideal chip): v = (acc * scale) * live in double.
//   then, f32_readout = 1, the temporal read noise: v = f32(v + f32(sigma_read * n1)).
// At a rising edge with reset_read the neuron is reset and its baseline read:
//   v = f32(sigma_base * n2) (f32_readout = 1; the reset level plus its noise), else +0.
// n1, n2: the neuron's standard normal deviates of this vector (float32 bits, from
// bss2_noise: the emulator's N1 and N2 of counter sample * 512 + neuron); sigma_read
// (noisy-neuron faults included), sigma_base: LSB, float32 values as doubles. The
// CADC then forms f32(frac + f32(slope * v)): the C core's
// fr + sl * (v + sr * n1) and fr + sl * (sb * n2), operation for operation.
// knee_*, rail_*: float32 values as doubles, LSB; live: 0 for a dead neuron.
/* verilator lint_off DECLFILENAME */

module bss2_neuron_leak (
    input  wire [31:0] send_cycles,
    input  wire [10:0] num_sends,
    input  wire [63:0] gain_bits,
    input  wire [63:0] tau_bits,
    input  wire        leak_on,
    output reg  [63:0] scale_bits
);
    real duration;
    real l;
    real sends;
    always @* begin
        sends = $itor({21'd0, num_sends});
        duration = 0.0;
        l = 1.0;
        if (leak_on) begin
            duration = $itor(send_cycles) * (1.0 / 125.0e6);
            l = $exp(-duration / $bitstoreal(tau_bits));
            if (l < 1.0) sends = (1.0 - $pow(l, sends)) / (1.0 - l);
        end
        scale_bits = $realtobits($bitstoreal(gain_bits) * sends);
    end
endmodule

module bss2_neuron (
    input  wire        clk,
    input  wire        clear,
    input  wire        charge_valid,
    input  wire [63:0] charge_bits,
    input  wire        read,
    input  wire        reset_read,
    input  wire [63:0] scale_bits,
    input  wire        f32_readout,
    input  wire        compress,
    input  wire        live,
    input  wire [63:0] knee_pos_bits,
    input  wire [63:0] knee_neg_bits,
    input  wire [63:0] rail_pos_bits,
    input  wire [63:0] rail_neg_bits,
    input  wire [63:0] sigma_read_bits,
    input  wire [63:0] sigma_base_bits,
    input  wire [31:0] n1,
    input  wire [31:0] n2,
    output reg  [63:0] v_bits
);
    `include "float32.vh"
    reg [63:0] acc;
    initial acc = 64'd0;
    real kp, kn, rp, rn;
    always @(posedge clk) begin
        if (clear)
            acc <= 64'd0;
        else if (charge_valid)
            acc <= $realtobits(f32($bitstoreal(acc) + $bitstoreal(charge_bits)));
    end

    // the membrane excursion read from the integrator (see the header)
    function automatic real membrane;
        input real q;
        input real scale;
        begin
            if (f32_readout) begin
                membrane = f32(f32(q * f32(scale)) * (live ? 1.0 : 0.0));
                if (compress) begin
                    kp = $bitstoreal(knee_pos_bits);
                    kn = $bitstoreal(knee_neg_bits);
                    rp = $bitstoreal(rail_pos_bits);
                    rn = $bitstoreal(rail_neg_bits);
                    if (membrane > kp)
                        membrane = f32(kp + (rp - kp) * $tanh((membrane - kp) / (rp - kp)));
                    else if (membrane < kn)
                        membrane = f32(kn + (rn - kn) * $tanh((membrane - kn) / (rn - kn)));
                end
            end else begin
                membrane = (q * scale) * (live ? 1.0 : 0.0);
            end
        end
    endfunction

    initial v_bits = 64'd0;
    always @(posedge clk) begin
        if (reset_read)
            v_bits <= f32_readout ? $realtobits(f32($bitstoreal(sigma_base_bits) * f32_from_bits(n2)))
                                  : 64'd0;
        else if (read && f32_readout)
            v_bits <= $realtobits(f32(membrane($bitstoreal(acc), $bitstoreal(scale_bits))
                                      + f32($bitstoreal(sigma_read_bits) * f32_from_bits(n1))));
        else if (read)
            v_bits <= $realtobits(membrane($bitstoreal(acc), $bitstoreal(scale_bits)));
    end
endmodule
