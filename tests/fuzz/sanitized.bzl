"""sanitized_binary: a cc_binary rebuilt, with every C++ dependency, under ASan + UBSan.

The transition adds the sanitizer flags to --copt and --linkopt for the binary's whole
dependency graph (server, storage, generated protos), so the code under test is
instrumented and not only the test's own files. System libraries (gRPC, protobuf, Abseil,
SQLite) stay uninstrumented.
"""

_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined"]

def _sanitize_impl(settings, _attr):
    return {
        "//command_line_option:copt": settings["//command_line_option:copt"] + _FLAGS +
                                      ["-fno-omit-frame-pointer"],
        "//command_line_option:linkopt": settings["//command_line_option:linkopt"] + _FLAGS,
    }

_sanitize = transition(
    implementation = _sanitize_impl,
    inputs = ["//command_line_option:copt", "//command_line_option:linkopt"],
    outputs = ["//command_line_option:copt", "//command_line_option:linkopt"],
)

def _sanitized_binary_impl(ctx):
    binary = ctx.attr.binary[0]
    out = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.symlink(
        output = out,
        target_file = binary[DefaultInfo].files_to_run.executable,
        is_executable = True,
    )
    runfiles = ctx.runfiles(files = [out]).merge(binary[DefaultInfo].default_runfiles)
    return [DefaultInfo(executable = out, runfiles = runfiles)]

sanitized_binary = rule(
    implementation = _sanitized_binary_impl,
    executable = True,
    attrs = {
        "binary": attr.label(cfg = _sanitize, executable = True, mandatory = True),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
)
