// DevmeshRouting: which destination a request goes to. Pure: no I/O, no Foundation.
//
// Request path (per worker, no locks, no allocation):
//   RouteSnapshotBox.currentVersion()/load()  -> the current RouteTable (once per loop turn)
//   RouteTable.service(forHost:)              -> service index (Host header, default service)
//   RoutingKeyExtractor.extract(from:into:)   -> RoutingKeyCandidates (ordered, <= 8 keys)
//   RouteTable.resolve(service:candidates:)   -> RouteDecision (destination id, which key)
//
// Folders:
//   Keys/        key alphabet and decoding, byte hashing and comparison
//   Extraction/  carriers (notes/carriers.md): header dispatch, list parsers, candidate list
//   Table/       RoutingSpec -> validated RouteTable: destinations, host and key indexes, /routes JSON
//   Snapshot/    publishing a new table to the workers
//
// RoutingSpec.swift is the declarative input that DevmeshConfig (and later the Routes API
// client) produces.
