import { Field, Int, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { CurrentPrincipal, Public } from 'src/framework/access/auth.decorators';
import type { Principal } from 'src/framework/access/principal';

/** The caller, as GraphQL's `viewer` answers it. */
@ObjectType('Viewer', { description: 'The signed-in caller: who they are and what they may do.' })
export class Viewer {
  @Field(() => Int)
  id!: number;

  @Field()
  email!: string;

  @Field()
  isStaff!: boolean;

  @Field()
  isSuperuser!: boolean;

  @Field(() => [String], { description: 'Permission codenames (superusers hold them all).' })
  permissions!: string[];
}

/**
 * The framework's own code-first resolver: `viewer`, so a client learns who it is and what it may do
 * before asking for more. Example: `{ viewer { email permissions } }`.
 */
@Resolver()
export class ViewerResolver {
  @Public()
  @Query(() => Viewer, { nullable: true, description: 'The caller, or null when anonymous.' })
  viewer(@CurrentPrincipal() principal?: Principal): Viewer | null {
    if (!principal) {
      return null;
    }
    return {
      id: principal.userId,
      email: principal.email,
      isStaff: principal.isStaff,
      isSuperuser: principal.isSuperuser,
      permissions: [...principal.permissions].sort(),
    };
  }
}
