// The client of the marshalike language server: starts `marshalike lsp` over stdio for
// .mrsh documents, with the command, arguments and compile settings of the configuration.
"use strict";

const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("marshalike");
  // No `transport`: an executable without one talks over stdio, and the client adds no
  // `--stdio` to its arguments (`marshalike lsp` takes and ignores it all the same).
  const serverOptions = {
    command: config.get("path", "marshalike"),
    args: ["lsp", ...config.get("args", [])],
  };
  const clientOptions = {
    documentSelector: [{ language: "mrsh" }],
    initializationOptions: { settings: config.get("settings", {}) },
    synchronize: {
      fileEvents: vscode.workspace.createFileSystemWatcher("**/*.{mrsh,csv,lock.json}"),
    },
  };
  client = new LanguageClient("marshalike", "Marshalike", serverOptions, clientOptions);
  context.subscriptions.push(
    vscode.commands.registerCommand("marshalike.compileSpec", async () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor || editor.document.languageId !== "mrsh") {
        return;
      }
      await editor.document.save();
      return vscode.commands.executeCommand("marshalike.compile", editor.document.uri.toString());
    }),
    vscode.commands.registerCommand("marshalike.compileFunctionHere", async () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor || editor.document.languageId !== "mrsh") {
        return;
      }
      // The server finds the function whose section holds the cursor's line (and says so
      // when there is none).
      await editor.document.save();
      const uri = editor.document.uri.toString();
      const line = editor.selection.active.line;
      return vscode.commands.executeCommand("marshalike.compileFunction", uri, line);
    }),
  );
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
