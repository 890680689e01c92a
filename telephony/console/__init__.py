"""What the staff console reads besides escalations and callbacks: who is signed in and the
people's presence (`overview`), the softphone's access token (`softphone`, signed locally with
twilio.jwt, no network) and the queues' machinery (`queues`). May import the loose core modules,
`policy` and the adapters."""
