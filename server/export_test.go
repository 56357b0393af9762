package server

// WireAnswers is how many requests s answered on the wire path.
func WireAnswers(s *Server) uint64 { return s.wireAnswers.Load() }
