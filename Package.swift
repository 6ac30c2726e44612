// swift-tools-version:6.0
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "agentos",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "agentos", targets: ["agentos"]),
        .executable(name: "agentos-bench", targets: ["agentos-bench"]),
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "4.0.0"..<"6.0.0"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.81.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.27.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.3.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CZeroMQ",
            pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]
        ),
        .target(
            name: "ZeroMQ",
            dependencies: [
                "CZeroMQ",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .systemLibrary(
            name: "CSeccomp",
            pkgConfig: "libseccomp",
            providers: [.apt(["libseccomp-dev"])]
        ),
        .systemLibrary(name: "CMalloc"),
        .target(name: "CSpawn"),
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("curl")]),
        .target(
            name: "AgentOSSandbox",
            dependencies: [
                "CSpawn", "CSeccomp", "AgentOSWire", "AgentOSAuth",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AgentOSSandboxService",
            dependencies: [
                "AgentOSSandbox", "AgentOSAPI", "AgentOSWire", "AgentOSAuth", "AgentOSHTTPServer",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AgentOSWire",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AgentOSAPI",
            dependencies: ["AgentOSWire"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AgentOSStore",
            dependencies: [
                "AgentOSWire", "AgentOSAuth",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AgentOSPostgres",
            dependencies: [
                "AgentOSStore", "AgentOSWire", "AgentOSAuth",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AgentOSAuth",
            dependencies: [
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AgentOSServer",
            dependencies: [
                "ZeroMQ", "CMalloc", "AgentOSAPI", "AgentOSWire", "AgentOSStore", "AgentOSPostgres", "AgentOSAuth",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AgentOSHTTPServer",
            dependencies: [
                "AgentOSAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "NIOHTTPTypesHTTP1", package: "swift-nio-extras"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AgentOSGateway",
            dependencies: [
                "ZeroMQ", "AgentOSAPI", "AgentOSWire", "AgentOSHTTPServer",
                .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AgentOSWorker",
            dependencies: [
                "ZeroMQ", "AgentOSWire", "AgentOSSandbox", "AgentOSAuth",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AgentOSClient",
            dependencies: ["AgentOSAPI", "CCurl", "AgentOSWire", "AgentOSAuth"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AgentOSDesktop",
            dependencies: [
                "AgentOSClient", "AgentOSWorker", "AgentOSSandbox", "AgentOSAPI", "AgentOSWire", "AgentOSAuth", "ZeroMQ",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AgentOSSupervisor",
            dependencies: [
                "ZeroMQ", "AgentOSPostgres",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "agentos",
            dependencies: [
                "AgentOSServer", "AgentOSSupervisor", "AgentOSGateway", "AgentOSHTTPServer", "AgentOSWorker", "AgentOSDesktop", "AgentOSClient",
                "AgentOSSandboxService", "AgentOSAPI", "AgentOSAuth", "AgentOSStore", "AgentOSPostgres", "ZeroMQ",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "agentos-bench",
            dependencies: ["AgentOSSandbox", "AgentOSWire", "AgentOSAuth", "ZeroMQ"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ZeroMQTests",
            dependencies: [
                "ZeroMQ",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "AgentOSWireTests", dependencies: ["AgentOSWire"]),
        .testTarget(name: "AgentOSAPITests", dependencies: ["AgentOSAPI", "AgentOSWire"]),
        .testTarget(
            name: "AgentOSHTTPServerTests",
            dependencies: [
                "AgentOSHTTPServer",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(name: "AgentOSAuthTests", dependencies: ["AgentOSAuth"]),
        .testTarget(name: "AgentOSWorkerTests", dependencies: ["AgentOSWorker", "AgentOSSandbox", "AgentOSWire", "AgentOSAuth", "ZeroMQ"]),
        .testTarget(name: "AgentOSSupervisorTests", dependencies: ["AgentOSSupervisor"]),
        .testTarget(name: "AgentOSDesktopTests", dependencies: ["AgentOSDesktop", "AgentOSClient", "AgentOSAPI", "AgentOSWire"]),
        .testTarget(name: "AgentOSSandboxTests", dependencies: ["AgentOSSandbox", "AgentOSWire"]),
        // What the store's and the server's tests share: a store of either engine.
        .target(
            name: "AgentOSTestSupport",
            dependencies: ["AgentOSStore", "AgentOSPostgres", .product(name: "Logging", package: "swift-log")],
            path: "Tests/AgentOSTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AgentOSStoreTests",
            dependencies: ["AgentOSStore", "AgentOSWire", "AgentOSTestSupport", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "AgentOSPostgresTests",
            dependencies: [
                "AgentOSPostgres", "AgentOSStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "AgentOSServerTests",
            dependencies: ["AgentOSAPI", "AgentOSServer", "AgentOSStore", "AgentOSTestSupport", "AgentOSWire", "AgentOSAuth", "ZeroMQ"]
        ),
        .testTarget(
            name: "AgentOSGatewayTests",
            dependencies: [
                "AgentOSGateway", "AgentOSHTTPServer", "AgentOSAPI", "AgentOSClient", "AgentOSWire", "ZeroMQ",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "AgentOSIntegrationTests",
            dependencies: [
                "AgentOSAPI", "AgentOSClient", "AgentOSWire", "AgentOSStore", "AgentOSTestSupport", "AgentOSAuth", "AgentOSGateway", "ZeroMQ",
            ]
        ),
    ]
)
