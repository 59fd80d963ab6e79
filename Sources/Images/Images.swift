/// The image store (issue 4).
public enum Images {}
