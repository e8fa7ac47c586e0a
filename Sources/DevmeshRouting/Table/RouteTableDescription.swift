extension RouteTable {
    /// The table as JSON, for the admin `/routes` endpoint: version, carriers, and per service
    /// its hosts, baseline and routes with their destination ids. Built from the compiled
    /// table (normalised hosts, resolved ids), so it shows what the proxy actually uses.
    ///
    /// ```
    /// {"version":7,"carriers":{"keyNames":[…],"customHeaders":[…]},"defaultService":"web",
    ///  "services":[{"name":"web","hosts":[],"default":true,
    ///    "baseline":{"destination":0,"endpoints":["10.0.0.1:8080"]},
    ///    "routes":[{"routingKey":"abc","sandbox":"feature-x","destination":1,
    ///               "endpoints":[…],"fallback":"fail"}]}]}
    /// ```
    public func describe() -> String {
        var json = JSONText()
        json.beginObject()
        json.key("version"); json.number(version)
        json.key("carriers")
        json.beginObject()
        json.key("keyNames"); json.strings(spec.carriers.keyNames)
        json.key("customHeaders"); json.strings(spec.carriers.customHeaders)
        json.endObject()
        json.key("defaultService")
        if let defaultService { json.string(services[defaultService].name) } else { json.null() }
        json.key("services")
        json.beginArray()
        for (index, service) in services.enumerated() {
            json.beginObject()
            json.key("name"); json.string(service.name)
            json.key("hosts"); json.strings(service.hosts)
            json.key("default"); json.bool(index == defaultService)
            json.key("baseline")
            json.beginObject()
            json.key("destination"); json.number(service.baselineDestination)
            json.key("endpoints"); json.endpoints(destinations[service.baselineDestination].endpoints)
            json.endObject()
            json.key("routes")
            json.beginArray()
            for id in service.routeDestinations {
                let route = destinations[id]
                json.beginObject()
                json.key("routingKey"); json.string(route.routingKey ?? "")
                json.key("sandbox"); json.string(route.name)
                json.key("destination"); json.number(id)
                json.key("endpoints"); json.endpoints(route.endpoints)
                json.key("fallback"); json.string(route.fallbackDestination == nil ? "fail" : "baseline")
                json.endObject()
            }
            json.endArray()
            json.endObject()
        }
        json.endArray()
        json.endObject()
        return json.text
    }
}

extension JSONText {
    fileprivate mutating func strings(_ values: [String]) {
        beginArray()
        for value in values { string(value) }
        endArray()
    }

    /// Endpoints as `host:port` strings (`[v6]:port`), the spelling of the config file.
    fileprivate mutating func endpoints(_ endpoints: [EndpointSpec]) {
        strings(endpoints.map(\.description))
    }
}
