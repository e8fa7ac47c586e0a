/// Finds repeated values (duplicate listeners, service names, routing keys) and remembers
/// where each was first written, so the message can point at both places.
struct FirstSeen<Key: Hashable> {
    private var locations: [Key: Location] = [:]

    /// Records `key`; when it was already recorded, returns a note naming the first place,
    /// such as " (first at services[0].name, line 3)".
    mutating func repeatNote(_ key: Key, at location: Location) -> String? {
        if let first = locations[key] {
            var place = first.path
            if let line = first.line { place += ", line \(line)" }
            return " (first at \(place))"
        }
        locations[key] = location
        return nil
    }
}
