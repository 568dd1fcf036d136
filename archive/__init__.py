"""Case-file archive for administrative law enforcement (行政执法案卷归档)."""
