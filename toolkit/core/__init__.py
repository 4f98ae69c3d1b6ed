"""The core: what every other floor of tk uses and which uses nothing of tk.

Errors a user can fix (`errors`), atomic writes (`atomic`), the checkpoint file format
(`checkpoint`), the model's input (`geometry`: `InputSpec`), CPU threads (`threads`), text a
user sees (`text`), optimiser parameter groups (`params`), malloc settings (`allocator`) and the
version. Modules here import only each other and third-party libraries.
"""
