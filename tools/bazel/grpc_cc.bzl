"""grpc_cc_library: protoc + grpc_cpp_plugin from Debian, wrapped in a cc_library."""

def grpc_cc_library(name, srcs, deps = [], visibility = None):
    """Generates message and service code for `srcs` and compiles it.

    Imports are repo-rooted (`import "proto/pgqrs/v1/common.proto";`), and so are the
    generated headers (`#include "proto/pgqrs/v1/queue.grpc.pb.h"`).
    """
    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc", base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    dep_protos = [dep + "_protos" for dep in deps]

    native.genrule(
        name = name + "_codegen",
        srcs = srcs + dep_protos,
        outs = outs,
        tools = ["@system_bin//:protoc", "@system_bin//:grpc_cpp_plugin"],
        cmd = " ".join([
            "$(location @system_bin//:protoc)",
            "--proto_path=.",
            "--cpp_out=$(GENDIR)",
            "--grpc_out=$(GENDIR)",
            "--plugin=protoc-gen-grpc=$(location @system_bin//:grpc_cpp_plugin)",
        ] + ["$(location %s)" % src for src in srcs]),
    )

    native.filegroup(
        name = name + "_protos",
        srcs = srcs + dep_protos,
        visibility = visibility,
    )

    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        deps = deps + ["@system_cc//:grpcpp"],
        visibility = visibility,
    )
