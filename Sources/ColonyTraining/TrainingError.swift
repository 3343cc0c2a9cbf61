/// What stopped training, with what to do about it.
public enum TrainingError: Error, CustomStringConvertible, Equatable {
    /// A user-supplied value is out of range or inconsistent.
    case invalidArgument(String)
    /// The model file cannot be trained as asked.
    case invalidModel(String)
    /// The data file is malformed; names the file and line.
    case invalidData(String)
    /// A checkpoint is missing, damaged or from another configuration.
    case invalidCheckpoint(String)
    /// A resume was asked for, but `directory` holds no checkpoint.
    case noCheckpoint(directory: String)

    public var description: String {
        switch self {
        case .invalidArgument(let s), .invalidModel(let s), .invalidData(let s), .invalidCheckpoint(let s): return s
        case .noCheckpoint(let directory): return "--resume: no checkpoint in \(directory); run without --resume to start"
        }
    }
}
