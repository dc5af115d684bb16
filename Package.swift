// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "fhir-gateway",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "fhir-gateway", targets: ["fhir-gateway"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
        .package(url: "https://github.com/vapor/sqlite-nio.git", from: "1.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "4.0.0"..<"5.0.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.29.0"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.3.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-extras.git", from: "1.34.1"),
    ],
    targets: [
        .target(name: "FHIRModels"),
        .target(name: "FHIRSearch", dependencies: ["FHIRModels"]),
        .target(name: "FHIRValidation", dependencies: ["FHIRModels"]),
        .target(name: "GatewayConfig", dependencies: [
            .product(name: "Yams", package: "Yams"),
        ]),
        .target(name: "HMSMapping", dependencies: ["FHIRModels", "GatewayConfig"]),
        .target(name: "GatewayAuth", dependencies: [
            "GatewayConfig", "FHIRModels", "FHIRSearch",
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "GatewayStore", dependencies: [
            "FHIRModels", "FHIRSearch", "HMSMapping", "GatewayConfig", "GatewayAuth",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "SQLiteNIO", package: "sqlite-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "GatewayApp", dependencies: [
            "FHIRModels", "FHIRSearch", "FHIRValidation", "HMSMapping", "GatewayConfig", "GatewayAuth", "GatewayStore",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "fhir-gateway", dependencies: [
            "GatewayApp", "GatewayStore", "GatewayAuth", "GatewayConfig",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "FHIRValidationTests", dependencies: ["FHIRValidation", "FHIRModels"], exclude: ["Fixtures"]),
        .testTarget(name: "GatewayTests", dependencies: [
            "GatewayApp", "GatewayStore", "GatewayAuth", "GatewayConfig", "FHIRModels", "FHIRSearch", "FHIRValidation", "HMSMapping",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "CryptoExtras", package: "swift-crypto"),
        ]),
    ]
)
