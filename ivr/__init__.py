"""What people hear: TwiML built with twilio.twiml.voice_response, pure functions of their inputs."""
