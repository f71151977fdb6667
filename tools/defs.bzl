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

CUDA_LINKOPTS = ["-L/usr/local/cuda/lib64", "-lcudart_static", "-ldl", "-lrt", "-lpthread"]

def cuda_library(name, srcs, hdrs = [], cuda_hdrs = [], deps = [], visibility = None):
    """Compiles each .cu in `srcs` with the system nvcc and links it statically.

    `cuda_hdrs` are headers the .cu files include (usually the shared kernels);
    they are passed to nvcc with the workspace root on the include path.
    """
    objs = []
    for src in srcs:
        obj = src[:-len(".cu")] + ".cu.o"
        native.genrule(
            name = name + "_" + src.replace("/", "_").replace(".", "_"),
            srcs = [src] + cuda_hdrs + hdrs,
            outs = [obj],
            cmd = ("/usr/local/cuda/bin/nvcc -std=c++20 -O3 --expt-relaxed-constexpr " +
                   "-Xcompiler -fPIC " + CUDA_GENCODE +
                   " -I. -I$(GENDIR) -c $(location " + src + ") -o $@"),
        )
        objs.append(obj)
    native.cc_library(
        name = name,
        srcs = objs,
        hdrs = hdrs,
        deps = deps,
        linkopts = CUDA_LINKOPTS,
        visibility = visibility,
    )
