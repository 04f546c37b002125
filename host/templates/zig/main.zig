//! {{name}}: an fdo function in Zig, built as a WASI command (`zig build-exe -target wasm32-wasi`).
//!
//! fdo runs `_start` with the request, `{"method", "params"}`, as JSON on stdin (and the method
//! in `FDO_METHOD`); what the command writes to stdout is the answer (JSON here), what it writes
//! to stderr goes to the function's logs, and a non-zero exit status fails the call with that
//! status and the last stderr line.
const std = @import("std");

const Request = struct {
    method: []const u8 = "",
    params: std.json.Value = .null,
};

pub fn main(init: std.process.Init) !u8 {
    const io = init.io;
    const arena = init.arena.allocator();

    // The request is small: read all of it (fdo closes stdin after it).
    var in_buf: [4096]u8 = undefined;
    var stdin = std.Io.File.Reader.init(.stdin(), io, &in_buf);
    const input = try stdin.interface.allocRemaining(arena, .limited(1 << 20));

    var err_buf: [512]u8 = undefined;
    var stderr = std.Io.File.Writer.init(.stderr(), io, &err_buf);
    const log = &stderr.interface;

    const request = std.json.parseFromSliceLeaky(Request, arena, input, .{ .ignore_unknown_fields = true }) catch |e| {
        try log.print("{{name}}: the request is not JSON: {t}\n", .{e});
        try log.flush();
        return 2;
    };

    var out_buf: [4096]u8 = undefined;
    var stdout = std.Io.File.Writer.init(.stdout(), io, &out_buf);
    const out = &stdout.interface;

    if (std.mem.eql(u8, request.method, "hello")) {
        // params: {"name": "Ada"}, ["Ada"] or "Ada".
        const name = switch (request.params) {
            .string => |s| s,
            .array => |a| if (a.items.len > 0 and a.items[0] == .string) a.items[0].string else "stranger",
            .object => |o| if (o.get("name")) |n| (if (n == .string) n.string else "stranger") else "stranger",
            else => "stranger",
        };
        const body = try std.fmt.allocPrint(arena, "Hello {s}!", .{name});
        try std.json.Stringify.value(.{ .body = body }, .{}, out);
        try out.flush();
        try log.print("{{name}}: greeted {s}\n", .{name});
        try log.flush();
        return 0;
    }
    try log.print("{{name}}: unknown method `{s}` (try hello)\n", .{request.method});
    try log.flush();
    return 2;
}
