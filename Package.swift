// swift-tools-version: 6.0
import PackageDescription

// Numeric Swift code needs a CPU target and aggressive inlining to vectorise (see
// shared/PLATFORM-NOTES.md); the hot loops themselves live in the C target.
let swiftNumericFlags: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked", "-enforce-exclusivity=unchecked"], .when(configuration: .release))
]

let package = Package(
    name: "Colony",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "colony", targets: ["colony"]),
        .library(name: "ColonyModels", targets: ["ColonyModels"]),
        .library(name: "ColonyEngine", targets: ["ColonyEngine"]),
        .library(name: "ColonyOpenAI", targets: ["ColonyOpenAI"]),
        .library(name: "ColonyServer", targets: ["ColonyServer"]),
        .library(name: "ColonyAgents", targets: ["ColonyAgents"]),
        .library(name: "ColonyStore", targets: ["ColonyStore"]),
        .library(name: "ColonyTraining", targets: ["ColonyTraining"]),
        .library(name: "ColonyCollectives", targets: ["ColonyCollectives"]),
        .library(name: "ColonyBench", targets: ["ColonyBench"]),
        .library(name: "ColonyRouting", targets: ["ColonyRouting"]),
        .library(name: "ColonyCluster", targets: ["ColonyCluster"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", from: "0.12.1"),
        .package(url: "https://github.com/apple/swift-system", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.0.0"),
        .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.0"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.0"),
        .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // -O3 even in debug builds: tests run the real model through these kernels.
        .target(
            name: "ColonyKernels",
            cSettings: [.unsafeFlags(["-O3", "-fno-math-errno", "-ffp-contract=fast"])]
        ),
        .target(name: "ColonyTensor", dependencies: ["ColonyKernels"], swiftSettings: swiftNumericFlags),
        // Debian's libopenblas-dev and libopenmpi-dev, installed by scripts/install-deps.
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS"),
        .systemLibrary(name: "CMPI", path: "Sources/CMPI"),
        .target(
            name: "ColonyCollectives",
            dependencies: ["ColonyTensor", "CMPI", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftNumericFlags
        ),
        .target(
            name: "ColonyTraining",
            dependencies: [
                "ColonyModels", "ColonyTensor", "ColonyKernels", "ColonyCollectives", "CBLAS",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftNumericFlags
        ),
        // A Jinja interpreter with Python's semantics, for the chat templates inside models.
        .target(name: "ColonyJinja"),
        .target(
            name: "ColonyModels",
            dependencies: ["ColonyTensor", "ColonyKernels", "ColonyJinja", .product(name: "Logging", package: "swift-log")],
            resources: [.copy("Chat/Templates")],
            swiftSettings: swiftNumericFlags
        ),
        .target(
            name: "ColonyEngine",
            dependencies: ["ColonyModels", "ColonyJinja", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftNumericFlags
        ),
        // Routing policies, the KV index and discovery: pure values, no network code.
        .target(name: "ColonyRouting", dependencies: ["ColonyEngine"]),
        // Workers and the router over gRPC; Generated/ comes from Protos/ (scripts/generate-protos).
        .target(
            name: "ColonyCluster",
            dependencies: [
                "ColonyEngine", "ColonyModels", "ColonyRouting", "ColonyHTTP",
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport"),
                .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf"),
                .product(name: "SwiftProtobuf", package: "swift-protobuf"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "ColonyStore", dependencies: [.product(name: "GRDB", package: "GRDB.swift")]),
        // The same stores on a shared PostgreSQL (postgres-nio: only this target and what uses it pay for it).
        .target(name: "ColonyStorePostgres", dependencies: ["ColonyStore", .product(name: "PostgresNIO", package: "postgres-nio")]),
        // Model versions and refs over a RegistryStore, weights stored by SHA-256.
        .target(name: "ColonyRegistry", dependencies: ["ColonyStore", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "ColonyHTTP"),
        .target(name: "ColonyOpenAI", dependencies: ["ColonyEngine"]),
        .target(
            name: "ColonyAgents",
            dependencies: [
                "ColonyEngine", "ColonyModels", "ColonyOpenAI", "ColonyStore", "ColonyHTTP", "Yams",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "ColonyServer",
            dependencies: [
                "ColonyEngine", "ColonyModels", "ColonyOpenAI", "ColonyRegistry", "ColonyRouting", "ColonyStore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // Benchmark runners and client doubles: they import what they measure.
        .target(
            name: "ColonyBench",
            dependencies: [
                "ColonyTensor", "ColonyModels", "ColonyEngine", "ColonyOpenAI", "ColonyHTTP", "ColonyStore", "ColonyAgents",
                "ColonyTraining", "ColonyCollectives", "ColonyRouting",
            ]
        ),
        .executableTarget(
            name: "colony",
            dependencies: [
                "ColonyTensor",
                "ColonyModels",
                "ColonyJinja",
                "ColonyEngine",
                "ColonyServer",
                "ColonyAgents",
                "ColonyStore",
                "ColonyRegistry",
                "ColonyStorePostgres",
                "ColonyHTTP",
                "ColonyTraining",
                "ColonyCollectives",
                "ColonyBench",
                "ColonyRouting",
                "ColonyCluster",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(name: "ColonyTensorTests", dependencies: ["ColonyTensor", "ColonyKernels"], resources: [.copy("Fixtures")]),
        // Helpers more than one test target needs.
        .target(name: "ColonyTestSupport", path: "Tests/ColonyTestSupport"),
        .testTarget(
            name: "colonyTests", dependencies: ["colony", "ColonyAgents", "ColonyStore", "ColonyHTTP", "ColonyModels", "ColonyTestSupport"]),
        .testTarget(name: "ColonyEngineTests", dependencies: ["ColonyEngine", "ColonyModels"]),
        .testTarget(
            name: "ColonyServerTests",
            dependencies: [
                "ColonyServer", "ColonyBench", "ColonyEngine", "ColonyModels", "ColonyHTTP", "ColonyTensor", "ColonyRegistry",
                "ColonyStore",
                "ColonyRouting",
            ]),
        .testTarget(name: "ColonyOpenAITests", dependencies: ["ColonyOpenAI", "ColonyEngine"]),
        .testTarget(name: "ColonyAgentsTests", dependencies: ["ColonyAgents", "ColonyEngine", "ColonyModels", "ColonyStore"]),
        .testTarget(name: "ColonyBenchTests", dependencies: ["ColonyBench", "ColonyAgents", "ColonyModels"]),
        .testTarget(
            name: "ColonyStoreTests",
            dependencies: ["ColonyStore", "ColonyStorePostgres", "ColonyRegistry", .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "ColonyRoutingTests", dependencies: ["ColonyRouting", "ColonyEngine", "ColonyModels"]),
        .testTarget(
            name: "ColonyClusterTests",
            dependencies: [
                "ColonyCluster", "ColonyRouting", "ColonyEngine", "ColonyModels", "ColonyServer", "ColonyHTTP", "ColonyTestSupport",
            ]),
        .testTarget(name: "ColonyCollectivesTests", dependencies: ["ColonyCollectives", "ColonyTestSupport"]),
        .testTarget(
            name: "ColonyTrainingTests", dependencies: ["ColonyTraining", "ColonyModels", "ColonyTensor", "ColonyCollectives"],
            resources: [.copy("Fixtures")]),
        .testTarget(name: "ColonyJinjaTests", dependencies: ["ColonyJinja"], resources: [.copy("Fixtures")]),
        .testTarget(
            name: "ColonyModelsTests",
            dependencies: ["ColonyModels", "ColonyTensor", "ColonyJinja"],
            resources: [.copy("Fixtures")]
        ),
    ]
)
