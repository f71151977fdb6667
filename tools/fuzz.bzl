"""impulse_fuzz_test: one libFuzzer target, two ways to run it.

By default (gcc, also under --config=asan) the target is a cc_test that links
//tests/fuzz:regression_driver: it runs the seed corpus in corpus/<name>/ plus
a bounded number of deterministic mutations, a few seconds at most.

Under --config=libfuzzer (clang++-14, see tools/fuzz.sh) the same target links
libFuzzer's main instead (-fsanitize=fuzzer) and is a real fuzzer.
"""

load("@rules_cc//cc:defs.bzl", "cc_test")

def impulse_fuzz_test(name, srcs, deps = [], linkopts = [], size = "small", args = []):
    """A fuzz target `name` (defining LLVMFuzzerTestOneInput) with corpus/<name>/."""
    cc_test(
        name = name,
        size = size,
        srcs = srcs,
        args = ["tests/fuzz/corpus/" + name] + args,
        data = native.glob(["corpus/" + name + "/**"]),
        linkopts = linkopts + select({
            "//tools:libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        deps = deps + select({
            "//tools:libfuzzer": [],
            "//conditions:default": ["//tests/fuzz:regression_driver"],
        }),
    )
