// router.v -- the Dynap-SE2-like board's event router (hil/dynapse2/models.py: route, the exact
// semantics; docs/dynapse2.md, "RTL models"). Digital, synthesisable behavioural Verilog-2005.
//
// dynapse2_router routes one source at a time, a neuron's spike or an input event, and emits every
// event it delivers, one per clock, in the order of hil.dynapse2.RouteLog: by source, then
// receiving chip, neuron (core * 256 + neuron in the core), CAM entry; a delivery made twice (two
// destinations of one spike carrying the same tag into one core) comes out twice, back to back.
//
// Memories, per chip of the board (MAX_CHIPS of them, chip c at mesh position
// (c % mesh_width, c / mesh_width)), one row per neuron 0..1023 at row address {chip, neuron}:
//   SRAM row (92 bits): destination d 0..3 at [23 d +: 23] = {dy[3:0], dx[3:0], cores[3:0], tag[10:0]}
//     dx, dy: signed hops -8..7 (the family allows -7..7); cores: the destination chip's cores it
//     reaches, 0: the destination is off.
//   CAM row (1088 bits): entry e 0..63 at [17 e +: 17] = {weights[3:0], type[1:0], tag[10:0]}
//     weights: the mask of base weights Iw_0..Iw_3 it carries, 0: the entry is unused.
// The memories have no reset (RAM): a row reads what was last written to it.
//
// Configuration port: one write per clock while cfg_we, of kind cfg_kind:
//   0 mesh: cfg_data[2:0] = width, cfg_data[5:3] = height, each 1..4 with width * height <= MAX_CHIPS
//     (the reset mesh is 1 x 1);
//   1 SRAM row, 2 CAM row: row cfg_addr = {chip[3:0], neuron[9:0]}, chip < MAX_CHIPS, from
//     cfg_data[91:0] (SRAM) or cfg_data[1087:0] (CAM).
//   A write outside these ranges (or of kind 3) is refused: nothing changes and cfg_refused counts it.
// A write takes effect at once, also while a source is routed (rows read later see it).
//
// Sources (in_valid / in_ready, accepted while idle; numbered 0, 1, ... in acceptance order since the
// last rst or clear): in_input = 0, a spike of neuron in_neuron on chip in_chip; in_input = 1, an input
// event of tag in_tag into core in_core of chip in_chip.
//   A spike reads its neuron's SRAM row. Destination d with cores != 0 goes to the chip
//   (x + dx, y + dy) of the source's (x, y), and there to every core of the mask; a destination whose
//   chip lies off the mesh is dropped (counted in `dropped`). A source whose chip lies off the mesh
//   (in_chip >= width * height) is dropped whole (counted once).
//   The (chip, core) pairs reached are visited in ascending chip, then core. In each, neuron after
//   neuron (one CAM row a clock), all 64 entries are compared at once with the tag of every
//   destination into that core; an entry with weights != 0 and an equal tag is delivered once per such
//   destination, in ascending entry (then destination) order, one delivery a clock.
// Cost: a visited core takes 257 clocks plus one per delivery (plus the clocks out_ready is low), and
//   every source 3 more (taken, its destinations, the last visit's end).
//
// Deliveries (out_valid / out_ready; the outputs hold until accepted): out_source, the receiving
// out_chip and out_neuron (0..1023 on the chip), the matching out_entry and its out_type
// (0 AMPA, 1 GABA, 2 NMDA, 3 SHUNT) and out_weights (1..15).
// clear (while idle): source numbering restarts at 0 and the counters dropped and cfg_refused (16 bits
// each, wrapping) are zeroed. busy: a source is being routed.
/* verilator lint_off DECLFILENAME */

module dynapse2_router #(
    parameter MAX_CHIPS = 16,      // chips the memories hold, 1..16 (the mesh may use fewer)
    parameter SOURCE_BITS = 22     // width of the source numbers (a probe holds at most 2**21 sources)
) (
    input  wire                   clk,
    input  wire                   rst,
    input  wire                   clear,
    input  wire                   cfg_we,
    input  wire [1:0]             cfg_kind,
    input  wire [13:0]            cfg_addr,
    input  wire [1087:0]          cfg_data,
    output reg  [15:0]            cfg_refused,
    output reg  [2:0]             mesh_width,
    output reg  [2:0]             mesh_height,
    input  wire                   in_valid,
    output wire                   in_ready,
    input  wire                   in_input,
    input  wire [3:0]             in_chip,
    input  wire [9:0]             in_neuron,
    input  wire [1:0]             in_core,
    input  wire [10:0]            in_tag,
    output wire                   out_valid,
    input  wire                   out_ready,
    output wire [SOURCE_BITS-1:0] out_source,
    output wire [3:0]             out_chip,
    output wire [9:0]             out_neuron,
    output wire [5:0]             out_entry,
    output wire [1:0]             out_type,
    output wire [3:0]             out_weights,
    output wire                   busy,
    output reg  [15:0]            dropped
);
    localparam ROWS = MAX_CHIPS * 1024;
    localparam ROW_BITS = $clog2(ROWS);
    localparam VISITS = MAX_CHIPS * 4;      // (chip, core) pairs, bit chip * 4 + core
    localparam VISIT_BITS = $clog2(VISITS) < 1 ? 1 : $clog2(VISITS);
    localparam [4:0] CHIPS_MAX = MAX_CHIPS[4:0];  // for comparisons at the chip index's width
    localparam SRAM_BITS = 92, CAM_BITS = 1088, ENTRY_BITS = 17, DEST_BITS = 23;

    localparam [2:0] S_IDLE = 3'd0, S_DEST = 3'd1, S_NEXT = 3'd2, S_MATCH = 3'd3, S_EMIT = 3'd4;

    reg [SRAM_BITS-1:0] sram [0:ROWS-1];
    reg [CAM_BITS-1:0]  cam  [0:ROWS-1];

    reg [2:0]             state;
    reg [SOURCE_BITS-1:0] next_source;     // the number the next accepted source gets
    reg [SOURCE_BITS-1:0] source;          // the source being routed
    reg                   src_input;
    reg [3:0]             src_chip;
    reg [1:0]             src_core;
    reg [10:0]            src_tag;
    reg [SRAM_BITS-1:0]   sram_q;          // the spiking neuron's SRAM row
    reg [CAM_BITS-1:0]    cam_q;           // the CAM row of neuron `neuron` of the visited core
    reg [VISITS-1:0]      visits;          // (chip, core) pairs still to visit for this source
    reg [3:0]             dvalid;          // the source's destinations: on, chip, cores, tag
    reg [15:0]            dchip, dmask;
    reg [43:0]            dtag;
    reg [3:0]             dsel;            // the destinations into the visited (chip, core)
    reg [3:0]             cur_chip;
    reg [1:0]             cur_core;
    reg [7:0]             neuron;          // in the visited core
    reg [255:0]           pending;         // deliveries of the current row not yet emitted, bit 4 e + d

    // ---- the source's destinations (combinational, from sram_q or the input event) --------------
    wire [5:0] chips = {3'd0, mesh_width} * {3'd0, mesh_height};
    wire       src_off = {2'd0, src_chip} >= chips;
    wire [3:0] src_x = src_chip % {1'b0, mesh_width};
    wire [3:0] src_y = src_chip / {1'b0, mesh_width};
    reg  [3:0]  plan_on, plan_lost;        // a destination on the mesh / with cores but off it
    reg  [15:0] plan_chip, plan_mask;
    reg  [43:0] plan_tag;
    reg  [2:0]  plan_lost_count;
    reg  [VISITS-1:0] plan_visits;
    // every (chip, core) pair of the largest board; the pairs above MAX_CHIPS are never set
    /* verilator lint_off UNUSEDSIGNAL */
    reg  [63:0] plan_pairs;
    /* verilator lint_on UNUSEDSIGNAL */
    reg  [22:0] field;
    reg  signed [5:0] tx, ty;
    integer d, k;
    always @* begin
        plan_on = 4'd0;
        plan_lost = 4'd0;
        plan_chip = 16'd0;
        plan_mask = 16'd0;
        plan_tag = 44'd0;
        plan_pairs = 64'd0;
        field = 23'd0;
        tx = 6'sd0;
        ty = 6'sd0;
        if (src_input) begin
            // an input event: its own (chip, core), no hops
            plan_on[0] = !src_off;
            plan_chip[3:0] = src_chip;
            plan_mask[3:0] = 4'b0001 << src_core;
            plan_tag[10:0] = src_tag;
        end else if (!src_off) begin
            for (d = 0; d < 4; d = d + 1) begin
                field = sram_q[DEST_BITS * d +: DEST_BITS];
                tx = $signed({2'b00, src_x}) + $signed({{2{field[18]}}, field[18:15]});
                ty = $signed({2'b00, src_y}) + $signed({{2{field[22]}}, field[22:19]});
                if (field[14:11] != 4'd0) begin
                    if (tx >= 6'sd0 && ty >= 6'sd0 && tx < $signed({3'b000, mesh_width})
                        && ty < $signed({3'b000, mesh_height})) begin
                        plan_on[d] = 1'b1;
                        plan_chip[4 * d +: 4] = ty[3:0] * {1'b0, mesh_width} + tx[3:0];
                    end else begin
                        plan_lost[d] = 1'b1;
                    end
                end
                plan_mask[4 * d +: 4] = field[14:11];
                plan_tag[11 * d +: 11] = field[10:0];
            end
        end
        for (d = 0; d < 4; d = d + 1)
            for (k = 0; k < 4; k = k + 1)
                if (plan_on[d] && plan_mask[4 * d + k])
                    plan_pairs[{plan_chip[4 * d +: 4], k[1:0]}] = 1'b1;
        // destinations lie on the mesh, so on chips the memories hold
        plan_visits = plan_pairs[VISITS-1:0];
        plan_lost_count = {2'b00, plan_lost[0]} + {2'b00, plan_lost[1]} + {2'b00, plan_lost[2]}
                          + {2'b00, plan_lost[3]} + {2'b00, src_off};
    end

    // ---- the next (chip, core) to visit: the lowest pair left -------------------------------------
    reg [VISIT_BITS-1:0] visit;
    integer v;
    always @* begin
        visit = {VISIT_BITS{1'b0}};
        for (v = VISITS - 1; v >= 0; v = v - 1)
            if (visits[v]) visit = v[VISIT_BITS-1:0];
    end
    wire [5:0] visit6 = {{(6 - VISIT_BITS){1'b0}}, visit};
    wire [3:0] visit_chip = visit6[5:2];
    wire [1:0] visit_core = visit6[1:0];
    reg  [3:0] visit_sel;
    integer s;
    always @* begin
        for (s = 0; s < 4; s = s + 1)
            visit_sel[s] = dvalid[s] && dchip[4 * s +: 4] == visit_chip && dmask[{s[1:0], visit_core}];
    end

    // ---- one CAM row against the destinations into the visited core: 64 x 4 comparators -------------
    wire [255:0] hits;
    genvar ge, gd;
    generate
        for (ge = 0; ge < 64; ge = ge + 1) begin : entry
            for (gd = 0; gd < 4; gd = gd + 1) begin : dest
                assign hits[4 * ge + gd] = dsel[gd] && cam_q[ENTRY_BITS * ge + 13 +: 4] != 4'd0
                                           && cam_q[ENTRY_BITS * ge +: 11] == dtag[11 * gd +: 11];
            end
        end
    endgenerate

    // ---- the delivery emitted now: the lowest pending (entry, destination) --------------------------
    // The lowest entry with a delivery pending; the destination's part of the bit needs no encoder:
    // removing the lowest set bit (rest) steps through an entry's copies.
    reg [5:0] low;
    integer j;
    always @* begin
        low = 6'd0;
        for (j = 63; j >= 0; j = j - 1)
            if (pending[4 * j +: 4] != 4'd0) low = j[5:0];
    end
    wire [255:0] rest = pending & (pending - 256'd1);          // pending without its lowest bit
    wire         row_last = neuron == 8'd255;
    // Row addresses {chip, neuron}; the chip bits above the memories' depth are unused when
    // MAX_CHIPS < 16.
    /* verilator lint_off UNUSEDSIGNAL */
    wire [13:0]  next_row = {cur_chip, cur_core, neuron + 8'd1};
    wire [13:0]  visit_row = {visit_chip, visit_core, 8'd0};
    wire [13:0]  spike_row = {in_chip, in_neuron};
    /* verilator lint_on UNUSEDSIGNAL */

    assign in_ready = state == S_IDLE && !rst;
    assign busy = state != S_IDLE;
    assign out_valid = state == S_EMIT;
    assign out_source = source;
    assign out_chip = cur_chip;
    assign out_neuron = {cur_core, neuron};
    assign out_entry = low;
    // the emitted entry's {weights, type}: a 64-way select of 6 bits (not a shifter of the whole row)
    wire [5:0] fields [0:63];
    genvar gf;
    generate
        for (gf = 0; gf < 64; gf = gf + 1) begin : field_of
            assign fields[gf] = cam_q[ENTRY_BITS * gf + 11 +: 6];
        end
    endgenerate
    wire [5:0] low_fields = fields[low];
    assign out_type = low_fields[1:0];
    assign out_weights = low_fields[5:2];

    // ---- configuration writes ------------------------------------------------------------------------
    wire [5:0] cfg_chips = {3'd0, cfg_data[2:0]} * {3'd0, cfg_data[5:3]};
    wire       cfg_row_ok = {1'b0, cfg_addr[13:10]} < CHIPS_MAX;
    wire       cfg_mesh_ok = cfg_data[2:0] >= 3'd1 && cfg_data[2:0] <= 3'd4 && cfg_data[5:3] >= 3'd1
                             && cfg_data[5:3] <= 3'd4 && cfg_chips <= {1'b0, CHIPS_MAX};
    always @(posedge clk) begin
        if (cfg_we && cfg_kind == 2'd1 && cfg_row_ok) sram[cfg_addr[ROW_BITS-1:0]] <= cfg_data[SRAM_BITS-1:0];
        if (cfg_we && cfg_kind == 2'd2 && cfg_row_ok) cam[cfg_addr[ROW_BITS-1:0]] <= cfg_data;
    end

    always @(posedge clk) begin
        if (rst) begin
            mesh_width <= 3'd1;
            mesh_height <= 3'd1;
            cfg_refused <= 16'd0;
        end else begin
            if (cfg_we && cfg_kind == 2'd0 && cfg_mesh_ok) begin
                mesh_width <= cfg_data[2:0];
                mesh_height <= cfg_data[5:3];
            end
            if (clear)
                cfg_refused <= 16'd0;
            else if (cfg_we && (cfg_kind == 2'd3 || (cfg_kind == 2'd0 && !cfg_mesh_ok)
                                || (cfg_kind != 2'd0 && !cfg_row_ok)))
                cfg_refused <= cfg_refused + 16'd1;
        end
    end

    // ---- the routing sequence -------------------------------------------------------------------------
    always @(posedge clk) begin
        if (rst) begin
            state <= S_IDLE;
            next_source <= {SOURCE_BITS{1'b0}};
            dropped <= 16'd0;
            pending <= 256'd0;
            visits <= {VISITS{1'b0}};
        end else begin
            case (state)
                S_IDLE: begin
                    if (clear) begin
                        next_source <= {SOURCE_BITS{1'b0}};
                        dropped <= 16'd0;
                    end else if (in_valid) begin
                        source <= next_source;
                        next_source <= next_source + {{(SOURCE_BITS - 1){1'b0}}, 1'b1};
                        src_input <= in_input;
                        src_chip <= in_chip;
                        src_core <= in_core;
                        src_tag <= in_tag;
                        // a spike's SRAM row (a chip beyond the memories reads nothing: it is off the mesh)
                        if (!in_input && {1'b0, in_chip} < CHIPS_MAX) sram_q <= sram[spike_row[ROW_BITS-1:0]];
                        state <= S_DEST;
                    end
                end
                S_DEST: begin
                    dvalid <= plan_on;
                    dchip <= plan_chip;
                    dmask <= plan_mask;
                    dtag <= plan_tag;
                    visits <= plan_visits;
                    dropped <= dropped + {13'd0, plan_lost_count};
                    state <= S_NEXT;
                end
                S_NEXT: begin
                    if (visits == {VISITS{1'b0}}) begin
                        state <= S_IDLE;
                    end else begin
                        cur_chip <= visit_chip;
                        cur_core <= visit_core;
                        dsel <= visit_sel;
                        neuron <= 8'd0;
                        cam_q <= cam[visit_row[ROW_BITS-1:0]];
                        visits[visit] <= 1'b0;
                        state <= S_MATCH;
                    end
                end
                S_MATCH: begin
                    if (hits != 256'd0) begin
                        pending <= hits;
                        state <= S_EMIT;
                    end else if (row_last) begin
                        state <= S_NEXT;
                    end else begin
                        neuron <= neuron + 8'd1;
                        cam_q <= cam[next_row[ROW_BITS-1:0]];
                    end
                end
                S_EMIT: begin
                    if (out_ready) begin
                        pending <= rest;
                        if (rest == 256'd0) begin
                            if (row_last) begin
                                state <= S_NEXT;
                            end else begin
                                neuron <= neuron + 8'd1;
                                cam_q <= cam[next_row[ROW_BITS-1:0]];
                                state <= S_MATCH;
                            end
                        end
                    end
                end
                default: state <= S_IDLE;
            endcase
        end
    end
endmodule
