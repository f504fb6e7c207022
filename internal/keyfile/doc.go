// Package keyfile is the ephemeral key file's lifecycle on the client: a
// key file (ssh's IdentityFile, <keydir>/USER@HOST) and its companions,
// locked shared by every proxy using it (Take, Use.Load, Use.Release),
// its push record so that connections within a push window push once
// (PushOnce, Window, Margin), removed by the last proxy out, or by a
// reaper when the window closes (Reap, ReaperRunning), or swept by the
// next proxy after a kill (Sweep). It knows nothing of AWS: what a push
// is, the caller says.
package keyfile
