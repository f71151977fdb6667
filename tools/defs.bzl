"""Build macros for the offline build: system protoc/grpc plugin and system nvcc."""

_GRPC_LINKOPTS = ["-lgrpc++", "-lgrpc", "-lprotobuf", "-lgpr", "-labsl_synchronization"]

def grpc_proto_library(name, srcs, deps = [], visibility = None):
    """Runs the system protoc + grpc_cpp_plugin over `srcs` and wraps the output.

    Proto import paths are rooted at the workspace root, so `proto/impulse/v1/jobs.proto`
    is imported as "impulse/v1/jobs.proto" when srcs live under proto/.
    """
    pkg = native.package_name()
    outs = []
    for src in srcs:
        base = src[:-len(".proto")]
        outs += [base + ".pb.h", base + ".pb.cc", base + ".grpc.pb.h", base + ".grpc.pb.cc"]
    native.genrule(
        name = name + "_gen",
        srcs = srcs,
        outs = outs,
        cmd = ("protoc -I{pkg} --cpp_out=$(GENDIR)/{pkg} --grpc_out=$(GENDIR)/{pkg} " +
               "--plugin=protoc-gen-grpc=$$(which grpc_cpp_plugin) $(SRCS)").format(pkg = pkg),
    )
    native.cc_library(
        name = name,
        srcs = [o for o in outs if o.endswith(".cc")],
        hdrs = [o for o in outs if o.endswith(".h")],
        includes = ["."],
        deps = deps,
        linkopts = _GRPC_LINKOPTS,
        visibility = visibility,
    )

# sm_80 and sm_90 machine code plus compute_90 PTX so newer cards can JIT it.
CUDA_GENCODE = ("-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 " +
                "-gencode arch=compute_90,code=compute_90")

# The sanitizer builds (--define=impulse_cuda=ptx_only) run no GPU code in
# CI: compute_80 PTX alone compiles about three times faster, and a card
# still JITs it if someone runs them on one.
CUDA_GENCODE_PTX_ONLY = "-gencode arch=compute_80,code=compute_80"

CUDA_LINKOPTS = ["-L/usr/local/cuda/lib64", "-lcudart_static", "-ldl", "-lrt", "-lpthread"]

_NVCC = "/usr/local/cuda/bin/nvcc"

def _cuda_objects_impl(ctx):
    """Runs nvcc once per .cu file with the headers and include paths of `deps`."""
    cc_infos = [d[CcInfo] for d in ctx.attr.deps if CcInfo in d]
    headers = depset(
        ctx.files.hdrs,
        transitive = [c.compilation_context.headers for c in cc_infos],
    )
    include_flags = ["-I.", "-I" + ctx.bin_dir.path]
    define_flags = []
    for c in cc_infos:
        cc = c.compilation_context
        for inc in cc.quote_includes.to_list() + cc.includes.to_list():
            include_flags.append("-I" + inc)
        for inc in cc.system_includes.to_list():
            include_flags += ["-isystem", inc]
        for d in cc.defines.to_list():
            define_flags.append("-D" + d)
    outs = []
    for src in ctx.files.srcs:
        # Keep the path below the package so equal basenames do not collide.
        rel = src.short_path
        if ctx.label.package and rel.startswith(ctx.label.package + "/"):
            rel = rel[len(ctx.label.package) + 1:]
        out = ctx.actions.declare_file(
            "_cuda_objs/" + ctx.label.name + "/" + rel[:-len(".cu")] + ".o",
        )
        args = ctx.actions.args()
        args.add_all(["-std=c++20", "-O3", "--expt-relaxed-constexpr", "-Xcompiler", "-fPIC",
                      "-Xcompiler", "-Wall"])
        args.add_all(ctx.attr.gencode.split(" "))
        args.add_all(include_flags)
        args.add_all(define_flags)
        args.add_all(ctx.attr.copts)
        args.add_all(["-c", src.path, "-o", out.path])
        ctx.actions.run(
            executable = _NVCC,
            arguments = [args],
            inputs = depset([src], transitive = [headers]),
            outputs = [out],
            mnemonic = "Nvcc",
            progress_message = "nvcc %s" % src.short_path,
            use_default_shell_env = True,
        )
        outs.append(out)
    return [DefaultInfo(files = depset(outs))]

_cuda_objects = rule(
    implementation = _cuda_objects_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = [".cu"]),
        "hdrs": attr.label_list(allow_files = True),
        "deps": attr.label_list(providers = [CcInfo]),
        "copts": attr.string_list(),
        "gencode": attr.string(mandatory = True),
    },
)

def cuda_library(name, srcs, hdrs = [], cuda_hdrs = [], deps = [], copts = [], visibility = None,
                 **kwargs):
    """Compiles each .cu in `srcs` with the system nvcc and links it with cudart_static.

    `hdrs` are the library's public headers (plain C++, no CUDA types); `cuda_hdrs` are
    private headers the .cu files include. The headers and include paths of `deps`
    (cc_library targets such as //compute/kernels) are visible to nvcc. `copts` go to
    nvcc (e.g. "--fmad=false"). Extra keyword arguments go to the cc_library.
    """
    _cuda_objects(
        name = name + "_cuda_objs",
        srcs = srcs,
        hdrs = hdrs + cuda_hdrs,
        deps = deps,
        copts = copts,
        gencode = select({
            "//tools:cuda_ptx_only": CUDA_GENCODE_PTX_ONLY,
            "//conditions:default": CUDA_GENCODE,
        }),
        visibility = ["//visibility:private"],
    )
    native.cc_library(
        name = name,
        srcs = [":" + name + "_cuda_objs"],
        hdrs = hdrs,
        deps = deps,
        linkopts = CUDA_LINKOPTS,
        visibility = visibility,
        **kwargs
    )
