import Linux

extension Identity {
    /// After entering a user namespace: uid and gid 0 there, so execve keeps the capabilities.
    static func becomeRootInUserNamespace() throws(RuntimeError) {
        try step("becoming root in the user namespace") {
            try Identity.setGID(0)
            try Identity.setUID(0)
        }
    }
}
