// Process entry for every vmxsim binary. IEEE 1666 lets the application own
// main() and call sc_elab_and_sim(), which then calls sc_main(). We do, to
// turn off the banner libsystemc prints on stderr before sc_main (Debian's
// 2.3.4 reads SYSTEMC_DISABLE_COPYRIGHT_MESSAGE; a user's own setting wins)
// and to silence the kernel's info reports.
#include <cstdlib>

#include <systemc>

int main(int argc, char** argv) {
  setenv("SYSTEMC_DISABLE_COPYRIGHT_MESSAGE", "1", 0);
  // Kernel info reports ("Simulation stopped by user" when a run ends on an
  // error) are not for users; errors reach them through vmxsim::Error.
  sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
  return sc_core::sc_elab_and_sim(argc, argv);
}
