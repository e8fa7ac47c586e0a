/// Byte values named once, so that parsers read like the grammar they implement.
enum Byte {
    static var cr: UInt8 { 0x0D }
    static var lf: UInt8 { 0x0A }
    static var space: UInt8 { 0x20 }
    static var tab: UInt8 { 0x09 }
    static var colon: UInt8 { 0x3A }
    static var semicolon: UInt8 { 0x3B }
    static var comma: UInt8 { 0x2C }
    static var slash: UInt8 { 0x2F }
    static var dot: UInt8 { 0x2E }
    static var zero: UInt8 { 0x30 }
}
