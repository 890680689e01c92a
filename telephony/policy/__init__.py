"""An organisation's procedure as data: the file's tables as pydantic models that refuse unknown
keys (`models`), the checks across tables and the `Policy` the core reads (`loading`), the one
error a bad file raises (`errors`), business hours, holidays and callback windows
(`business_hours`), and the generated table of every setting (`reference`). Pure: imports only
`telephony.numbers` and `telephony.config`, never an adapter, the store, Twilio or Flask."""
