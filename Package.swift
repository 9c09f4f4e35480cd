// swift-tools-version:5.9
import PackageDescription

// The engine (loader, IR, planner, runtime, portable kernels) builds for baseline x86-64 with
// checked arithmetic, so it runs on any x86-64 CPU. Per-ISA kernel modules hold the fast paths:
// only pointers and SIMD types inside, -Ounchecked, picked at run time from CPUID.
let avx512Flags: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v4", "-Ounchecked"])]
let avx2Flags: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v3", "-Ounchecked"])]

// The shipped libdlinfer.so: Swift runtime linked in (runs without the Swift toolchain), only the
// functions of include/dlinfer.h exported (Sources/DLInferC/dlinfer.map; the linker runs from
// elsewhere, hence the absolute path), soname libdlinfer.so.0 (bump only if the C ABI ever
// changes incompatibly). tools/install.sh installs it; tools/test_deploy.sh checks all of this.
let cLibraryLinkerFlags: [LinkerSetting] = [.unsafeFlags([
    "-static-stdlib",
    "-Xlinker", "--version-script=\(Context.packageDirectory)/Sources/DLInferC/dlinfer.map",
    "-Xlinker", "-soname=libdlinfer.so.0",
])]
// The command-line tools are installed too (tools/install.sh): same static Swift runtime.
let toolLinkerFlags: [LinkerSetting] = [.unsafeFlags(["-static-stdlib"])]

let package = Package(
    name: "dlinfer",
    products: [
        .library(name: "dlinfer", type: .dynamic, targets: ["DLInferC"]),
        .executable(name: "dlbench", targets: ["dlbench"]),
    ],
    targets: [
        .systemLibrary(name: "CHDF5", path: "Sources/CHDF5", pkgConfig: "hdf5",
                       providers: [.apt(["libhdf5-dev"])]),
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        .target(name: "CJPEG", path: "Sources/CJPEG",
                linkerSettings: [.linkedLibrary("jpeg")]),
        .target(name: "CDLInferCPU", path: "Sources/CDLInferCPU"),
        .target(name: "DLInferKernelsAVX512", dependencies: ["CDLInferCPU"], path: "Sources/DLInferKernelsAVX512",
                swiftSettings: avx512Flags),
        .target(name: "DLInferKernelsAVX2", dependencies: ["CDLInferCPU"], path: "Sources/DLInferKernelsAVX2",
                swiftSettings: avx2Flags),
        .target(name: "DLInfer", dependencies: ["CHDF5", "CBLAS", "CZlib", "CMalloc", "CJPEG", "CDLInferCPU",
                                                "DLInferKernelsAVX512", "DLInferKernelsAVX2"],
                path: "Sources/DLInfer"),
        // The public header, imported so the exported functions use its exact struct layouts.
        .systemLibrary(name: "CDLInferABI", path: "Sources/CDLInferABI"),
        .target(name: "DLInferC", dependencies: ["DLInfer", "CDLInferABI"], path: "Sources/DLInferC",
                exclude: ["dlinfer.map"], linkerSettings: cLibraryLinkerFlags),
        .executableTarget(name: "dlbench", dependencies: ["DLInfer"], path: "Sources/dlbench",
                         linkerSettings: toolLinkerFlags),
        // Fuzz targets (tools/fuzz.sh builds them with -DDLFUZZ -sanitize=fuzzer,address); a plain
        // build gives a reproducer that runs files through a target once.
        .executableTarget(name: "dlinfer-fuzz", dependencies: ["DLInfer"], path: "Sources/dlinfer-fuzz"),
        .testTarget(name: "DLInferTests", dependencies: ["DLInfer", "CDLInferCPU"], path: "Tests/DLInferTests"),
    ]
)
