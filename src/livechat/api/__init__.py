"""The JSON API, /api/v1: livechat for programs, authenticated by tokens."""
