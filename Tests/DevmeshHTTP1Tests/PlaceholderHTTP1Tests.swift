import XCTest
final class PlaceholderHTTP1Tests: XCTestCase { func testBuilds() {} }
