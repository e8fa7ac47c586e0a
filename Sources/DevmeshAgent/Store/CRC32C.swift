/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of each log record: it
/// detects a torn or damaged record with far better odds than a length check alone, and is the
/// one LevelDB/RocksDB logs and iSCSI use. Table-driven, one byte per step; the log is small.
enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { index in
        var crc = UInt32(index)
        for _ in 0..<8 {
            crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1
        }
        return crc
    }

    static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
        }
        return crc ^ 0xFFFF_FFFF
    }
}
