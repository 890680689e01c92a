"""An organisation's procedure as data: the policy file's pydantic models and loading (`models`),
business hours, holidays and callback windows (`business_hours`, pure), and the generated table
of every setting (`reference`). Pure: imports only `telephony.numbers`, `telephony.config`'s
constants and `telephony.policy.errors`, never the store, Twilio or Flask."""
