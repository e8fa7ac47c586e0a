import XCTest
final class PlaceholderRoutingTests: XCTestCase { func testBuilds() {} }
