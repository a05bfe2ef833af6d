-- A patient's history (`/patient`, `clinic export --patient`) reads every
-- record naming one reference, in time order: without this index each
-- lookup scans the whole records table.
CREATE INDEX records_by_patient ON records (patient_ref, wall_time_ms);
