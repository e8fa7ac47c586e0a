import XCTest
final class PlaceholderConfigTests: XCTestCase { func testBuilds() {} }
