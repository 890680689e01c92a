"""A local stand-in for Twilio: run, watch and test whole calls on one machine."""
