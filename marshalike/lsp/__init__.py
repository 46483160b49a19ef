"""The language server: `marshalike lsp` speaks the Language Server Protocol over stdio, so
every editor with an LSP client shows a spec's diagnostics as it is typed, its outline, the
state of each function's compiled code, and offers completions, quick fixes and a compile
command. Nothing in it needs a model until a compile is asked for."""
