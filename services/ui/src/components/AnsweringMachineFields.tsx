// The answering-machine setting's two inputs, shared by the create form and the campaign page.
import { Field } from "./Field";
import { ON_MACHINE, type OnMachine } from "../types";

/** What each choice does, in the words of docs/answering-machines.md. */
export const ON_MACHINE_TEXT: Record<OnMachine, string> = {
  COMPLETE: "complete the call (a message is left on the machine)",
  RETRY: "retry later by the Machine retry rule, then fail with MACHINE",
  HANG_UP: "hang up at once; the call fails with MACHINE, never retried",
};

export interface MachineSetting {
  detect: boolean;
  onMachine: OnMachine;
}

interface Props {
  value: MachineSetting;
  onChange: (value: MachineSetting) => void;
  /** The API's message for a field (answeringMachine.detect, answeringMachine.onMachine). */
  fieldError: (path: string) => string | undefined;
}

export function AnsweringMachineFields({ value, onChange, fieldError }: Props) {
  return (
    <>
      <Field
        label="Detect answering machines"
        error={fieldError("answeringMachine.detect")}
        hint="The carrier tells a person from a machine (it takes a few seconds of each answer); without it a machine's answer is an answered call."
      >
        {(p) => (
          <input
            {...p}
            type="checkbox"
            name="machineDetect"
            checked={value.detect}
            onChange={(e) => onChange({ ...value, detect: e.target.checked })}
          />
        )}
      </Field>
      <Field
        label="When a machine answers"
        error={fieldError("answeringMachine.onMachine") ?? fieldError("answeringMachine")}
        hint={value.detect ? "Applies to calls a machine or a fax answered." : "Applies once machines are detected."}
      >
        {(p) => (
          <select
            {...p}
            name="onMachine"
            value={value.onMachine}
            onChange={(e) => onChange({ ...value, onMachine: e.target.value as OnMachine })}
          >
            {ON_MACHINE.map((choice) => (
              <option key={choice} value={choice}>
                {ON_MACHINE_TEXT[choice]}
              </option>
            ))}
          </select>
        )}
      </Field>
    </>
  );
}
