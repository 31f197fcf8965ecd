"""Conversations: channel-agnostic flows that turn an inbound message into replies and effects."""
