import Template

/// Renders `text` against `data`, as `{{...}}` would under docker's `--format`.
func render(_ text: String, _ data: TemplateValue = .null) throws -> String {
    try Template(text).render(data)
}

/// The one-line description of the error parsing or rendering `text` gives, or nil if none.
func failure(_ text: String, _ data: TemplateValue = .null) -> String? {
    do {
        _ = try Template(text).render(data)
        return nil
    } catch {
        return error.description
    }
}

/// A docker-shaped container summary with a `Label` method, as the engine will build them.
let container: TemplateValue = [
    "ID": "4f1c2a3b5d6e",
    "Names": ["web", "frontend"],
    "Image": "nginx:1.25",
    "State": [
        "Status": "running",
        "Running": true,
        "Pid": 4242,
        "ExitCode": 0,
        "Health": .null,
    ],
    "Labels": ["com.example.tier": "frontend", "app": "web"],
    "Ports": [],
    "SizeRw": 1536,
    "Ratio": 0.25,
    "Mounts": [
        ["Source": "/srv/data", "Destination": "/data", "RW": true],
        ["Source": "/etc/hosts", "Destination": "/etc/hosts", "RW": false],
    ],
    "Label": .method { arguments in
        guard arguments.count == 1, case .string(let key) = arguments[0] else {
            throw TemplateMethodError("Label takes one label name, got \(arguments.count) arguments")
        }
        let labels: [String: String] = ["com.example.tier": "frontend", "app": "web"]
        return .string(labels[key] ?? "")
    },
]
