"""What a run did, said to its users: the measures of its journal (measure), its one verdict
(verdict), its reports in four forms (render: terminal, JSON, JUnit, HTML) and the way of one
invoice (trace)."""
