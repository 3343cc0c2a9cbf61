// swift-tools-version: 6.0
import PackageDescription

// Numeric Swift code needs a CPU target and aggressive inlining to vectorise (see
// shared/PLATFORM-NOTES.md); the hot loops themselves live in the C target.
let swiftNumericFlags: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "Colony",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "colony", targets: ["colony"]),
        .library(name: "ColonyModels", targets: ["ColonyModels"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // -O3 even in debug builds: tests run the real model through these kernels.
        .target(
            name: "ColonyKernels",
            cSettings: [.unsafeFlags(["-O3", "-fno-math-errno", "-ffp-contract=fast"])]
        ),
        .target(name: "ColonyTensor", dependencies: ["ColonyKernels"], swiftSettings: swiftNumericFlags),
        .target(
            name: "ColonyModels",
            dependencies: ["ColonyTensor", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftNumericFlags
        ),
        .executableTarget(
            name: "colony",
            dependencies: [
                "ColonyModels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "ColonyTensorTests", dependencies: ["ColonyTensor", "ColonyKernels"]),
        .testTarget(name: "colonyTests", dependencies: ["colony"]),
        .testTarget(
            name: "ColonyModelsTests",
            dependencies: ["ColonyModels"],
            resources: [.copy("Fixtures")]
        ),
    ]
)
