"""Channel adapters: each turns its provider's payloads into InboundMessage and renders Outbound."""
