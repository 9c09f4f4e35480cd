// swift-tools-version:5.9
import PackageDescription

// Kernels want AVX2/FMA code; Swift's default x86-64 baseline turns SIMD into scalar calls.
let kernelFlags: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v3", "-Ounchecked"])]

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
        .target(name: "CJPEG", path: "Sources/CJPEG",
                linkerSettings: [.linkedLibrary("jpeg")]),
        .target(name: "DLInfer", dependencies: ["CHDF5", "CBLAS", "CZlib", "CJPEG"],
                path: "Sources/DLInfer", swiftSettings: kernelFlags),
        // The public header, imported so the exported functions use its exact struct layouts.
        .systemLibrary(name: "CDLInferABI", path: "Sources/CDLInferABI"),
        .target(name: "DLInferC", dependencies: ["DLInfer", "CDLInferABI"], path: "Sources/DLInferC"),
        .executableTarget(name: "dlbench", dependencies: ["DLInfer"], path: "Sources/dlbench"),
        .testTarget(name: "DLInferTests", dependencies: ["DLInfer"], path: "Tests/DLInferTests"),
    ]
)
